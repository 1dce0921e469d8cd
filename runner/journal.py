"""The run journal: `.mktows/runs/<run-id>/journal.jsonl`, one checked record a line, never
holding a secret (every string is masked before it is encoded).

Records: a `run` header (what ran, with hashes of every input), `send` before a call that must
not be resent blindly leaves (so a crash mid-call is known to be ambiguous), `call` with each
call's outcome, `resume` when a resume starts, and `end` (status, and why a run stopped). A
resumed run appends to the same journal; the last `call` for a key wins.

Format 2 (FORMAT): each line is `{"crc32":"<8 hex>","record":<JSON object>}\\n`, the CRC-32
taken over the exact bytes of the record. A line counts only when it ends in a newline and its
checksum matches, so a torn write can never pass for a record, and one cannot be glued to the
next. On reading:

- the bytes after the last newline are a torn tail (a write cut short by a crash or a full
  disk): a checked record there is kept (a newline is added before anything is appended),
  anything else is dropped; either way the console says so;
- a complete line that fails its check is damage a torn write cannot make: the journal is
  refused, naming the file and line, because what follows it cannot be trusted.

A write that fails (ENOSPC, EIO, ...) is rolled back to the last whole record and the journal
accepts nothing after it: there is never a hole with records behind it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from runner.errors import StorageError, UsageError
from runner.secrets import Redactor

RUNS_DIR = Path(".mktows") / "runs"
FORMAT = 2
JOURNAL = "journal.jsonl"
# A record is a few KB (a 300-lead batch's outputs); a line past this is not one of ours, and
# reading it whole could exhaust memory.
MAX_LINE = 64 * 1024 * 1024
_LINE = re.compile(rb'\{"crc32":"([0-9a-f]{8})","record":(.*)\}', re.DOTALL)
# How long an outcome may wait for its fsync (README, "Resume": outcomes are fsynced in the
# background; intents before their call is sent). A power cut inside it loses outcomes only,
# which resume handles: an upsert is sent again, a campaign call is held back as ambiguous.
SYNC_EVERY_S = 0.05


def new_run_id(now: datetime) -> str:
    """`20260301T100000Z-4f2a9c`: UTC, so run ids sort by start time whatever the zone."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def encode(record: dict[str, Any], redactor: Redactor) -> bytes:
    """One journal line. Masked before encoding: a secret with a quote, a backslash or a
    non-ASCII character would otherwise reach the file in its escaped form."""
    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), default=lambda o: redactor(str(o)))

    text = dumps(record)
    if not redactor.leaves_json_alone(text):  # (usually it does: one scan, no copy)
        text = dumps(redactor.tree(record))
    payload = text.encode("ascii")
    return b'{"crc32":"%08x","record":%b}\n' % (zlib.crc32(payload), payload)


@dataclass(frozen=True)
class Repair:
    """What `Journal` must do to a journal before appending: keep its first `keep` bytes and
    add the newline its last record lacks. `note` says what was found, for the console."""

    keep: int
    newline: bool
    note: str | None


class Journal:
    """Appends records, each written with one write() and fsynced by a background syncer (one
    fsync covers every record written before it; an outcome waits at most SYNC_EVERY_S for
    one). `durable=True` waits for the fsync, which then starts at once: a `send` intent must
    be on disk before its non-idempotent request leaves. An outcome lost to a crash
    in the last milliseconds costs nothing unsafe: resume resends an upsert, and holds back a
    campaign call as ambiguous because its intent is there.

    Any failure to write or sync raises StorageError (naming the file) then and on every later
    write: the file ends with the last whole record, never a record after a hole."""

    def __init__(self, path: Path, redactor: Redactor, repair: Repair | None = None) -> None:
        self.path = path
        self.redactor = redactor
        # A plain lock: nothing here re-enters it, and an RLock costs more per write.
        self._cond = threading.Condition(threading.Lock())
        self._written = 0
        self._synced = 0
        self._durable = 0  # writers waiting for their record's fsync
        self._idle = False  # the syncer waits for a first record to sync
        self._closing = False
        self._failed: StorageError | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StorageError(path, exc) from None
        try:
            if repair is not None:
                os.ftruncate(self._fd, repair.keep)
                if repair.newline:
                    _write_all(self._fd, b"\n")
                os.fsync(self._fd)
        except OSError as exc:
            os.close(self._fd)
            raise StorageError(path, exc) from None
        self._syncer = threading.Thread(target=self._sync_loop, name="mktows-journal",
                                        daemon=True)
        self._syncer.start()

    def write(self, record: dict[str, Any], *, durable: bool = False) -> None:
        line = encode(record, self.redactor)
        with self._cond:
            if self._failed is not None:
                raise self._failed
            if self._closing:
                raise StorageError(self.path, "the journal was already closed")
            try:
                start = os.fstat(self._fd).st_size if durable else 0
                _write_all(self._fd, line)
            except OSError as exc:
                self._failed = StorageError(self.path, exc)
                self._cond.notify_all()
                raise self._failed from None
            self._written += 1
            mine = self._written
            if not durable:
                if self._idle:  # (a busy syncer gets to this record on its own)
                    self._cond.notify_all()
                return
            self._durable += 1
            self._cond.notify_all()
            try:
                while self._synced < mine and self.failed is None:
                    self._cond.wait()
            finally:
                self._durable -= 1
            failed = self.failed  # (set by the syncer meanwhile)
            if failed is not None:
                # The sync failed, so the caller will not act on this record (an intent's
                # call is not sent): cut it, and what followed it, lest it say otherwise.
                with suppress(OSError):
                    os.ftruncate(self._fd, start)
                raise failed

    @property
    def failed(self) -> StorageError | None:
        return self._failed

    def _sync_loop(self) -> None:
        # fdatasync skips the metadata an append does not need; macOS has only fsync.
        datasync = getattr(os, "fdatasync", os.fsync)
        while True:
            with self._cond:
                while (self._synced >= self._written or self._failed) and not self._closing:
                    self._idle = True
                    self._cond.wait()
                self._idle = False
                # Outcomes are synced in the background, at most every SYNC_EVERY_S: one fsync
                # then covers many of them (each call waking this thread for its own cost the
                # sending threads more than the disk did). A durable record is synced at once.
                pause_until = time.monotonic() + SYNC_EVERY_S
                while not (self._durable or self._closing or self._failed):
                    left = pause_until - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self._synced >= self._written or self._failed:
                    return  # closing, and everything is on disk (or nothing more can be)
                upto = self._written
            try:
                datasync(self._fd)  # outside the lock: writers carry on meanwhile
            except OSError as exc:
                # After a failed fsync the kernel may have dropped the dirty pages: nothing
                # written since the last good sync can be trusted to be on disk.
                with self._cond:
                    self._failed = StorageError(self.path, exc)
                    self._cond.notify_all()
                return
            with self._cond:
                self._synced = upto
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        self._syncer.join()
        os.close(self._fd)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte, or none: after a short write and an error, cut the file back to
    where this line began so no torn line stays behind."""
    done = 0
    try:
        while done < len(data):
            done += os.write(fd, data[done:])
    except OSError:
        if done:
            with suppress(OSError):  # if this fails too, the reader drops the torn tail
                os.ftruncate(fd, os.fstat(fd).st_size - done)
        raise


@dataclass
class PastRun:
    """What an earlier run's journal says."""

    directory: Path
    header: dict[str, Any]
    done: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> ok call record
    ambiguous: dict[str, dict[str, Any]] = field(default_factory=dict)
    repair: Repair | None = None  # the torn tail to cut before appending

    @property
    def run_id(self) -> str:
        return str(self.header["run_id"])


def find(ref: str, base: Path = RUNS_DIR) -> Path:
    """A run directory from a run id or a path."""
    for candidate in (Path(ref), base / ref):
        if (candidate / JOURNAL).is_file():
            return candidate
    known = sorted(p.name for p in base.glob("*") if (p / JOURNAL).is_file())[-5:]
    hint = f" (recent runs: {', '.join(known)})" if known else ""
    raise UsageError(f"no run journal found for {ref!r}{hint}")


def read(directory: Path) -> PastRun:
    """The journal's records, checked; UsageError (exit 2) when it cannot be trusted."""
    path = directory / JOURNAL
    try:
        records, repair = _scan(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    header = records[0] if records else None
    if header is None or header.get("type") != "run":
        raise UsageError(f"{path} has no run header: the run stopped before it sent anything "
                         "(or this is not a mktows-run journal); start a new run")
    if header.get("format") != FORMAT or not isinstance(header.get("run_id"), str):
        raise UsageError(f"{path} is journal format {json.dumps(header.get('format'))}; this "
                         f"mktows-run reads format {FORMAT} only: start a new run")
    past = PastRun(directory, header, repair=repair)
    sent: set[str] = set()
    for record in records:
        key = str(record.get("key"))
        if record.get("type") == "send":
            sent.add(key)
        elif record.get("type") == "call":
            sent.discard(key)
            past.done.pop(key, None)
            past.ambiguous.pop(key, None)
            status = record.get("status")
            if status == "ok":
                past.done[key] = record
            elif status == "ambiguous":
                past.ambiguous[key] = record
            # (a failed call is simply not done: the resume sends it again)
    for key in sent:  # sent, and the run died before the answer was written
        past.ambiguous[key] = {"key": key, "status": "ambiguous", "fault": {
            "code": None, "kind": "ambiguous",
            "message": "the run stopped while this call was in flight"}}
    return past


def _scan(path: Path) -> tuple[list[dict[str, Any]], Repair | None]:
    records: list[dict[str, Any]] = []
    keep, newline, note = 0, False, None
    with path.open("rb") as f:
        for number, start, line, complete in _lines(f):
            record, why = _decode(line)
            if complete and record is None:
                if number == 1 and why.startswith("journal format"):
                    raise UsageError(f"{path} is {why}; this mktows-run reads format {FORMAT} "
                                     "only: start a new run")
                raise UsageError(
                    f"{path}:{number}: {why}: the journal is damaged (a crash or a full disk "
                    "leaves a line without its newline, never this), so what it says from here "
                    "on cannot be trusted and a resume could resend calls that were done. "
                    "Inspect the file, or check Marketo for what this run did and start a new "
                    "run")
            if record is not None:
                assert line is not None
                records.append(record)
                keep, newline = start + len(line) + complete, not complete
                if not complete:  # a whole record whose newline never made it
                    note = f"line {number}: a whole record without its newline; kept"
            else:
                note = (f"line {number}: a record cut short by a crash or a full disk "
                        f"({why}); dropped")
    return records, (Repair(keep, newline, note) if note else None)


def _lines(f: BinaryIO) -> Iterator[tuple[int, int, bytes | None, bool]]:
    """(line number, offset, bytes without the newline or None when longer than MAX_LINE,
    whether it had one)."""
    offset = 0
    number = 0
    while True:
        raw = f.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        start = offset
        offset += len(raw)
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest, in bounded pieces
                raw = f.readline(MAX_LINE)
                offset += len(raw)
            yield number, start, None, bool(raw)
            continue
        complete = raw.endswith(b"\n")
        yield number, start, raw[:-1] if complete else raw, complete


def _decode(line: bytes | None) -> tuple[dict[str, Any] | None, str]:
    """The record on a line, or None and why not (for the message)."""
    if line is None:
        return None, f"a line longer than {MAX_LINE} bytes"
    match = _LINE.fullmatch(line)
    if match is not None and zlib.crc32(match[2]) == int(match[1], 16):
        try:
            value = json.loads(match[2])
        except (ValueError, RecursionError):
            return None, "the checksum matches but the record is not JSON"
        if isinstance(value, dict):
            return value, ""
        return None, f"the record is a JSON {type(value).__name__}, not an object"
    if match is not None:
        return None, "checksum mismatch"
    if not line:
        return None, "an empty line"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None, "bytes that are not UTF-8"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None, "not a journal record"
    if isinstance(value, dict) and value.get("type") == "run" and "format" in value:
        return None, f"journal format {json.dumps(value.get('format'))} (no checksums)"
    kind = "object" if isinstance(value, dict) else type(value).__name__
    return None, f"a JSON {kind} without the record checksum"
