"""The run journal: `.mktows/runs/<run-id>/journal.jsonl`, one JSON line per event, flushed
as it is written and fsynced right after, never holding a secret (every line goes through the redactor).

Lines: a `run` header (what ran, with hashes of every input), `send` before a call that must
not be resent blindly leaves (so a crash mid-call is known to be ambiguous), `call` with
each call's outcome, and `end`. A resumed run appends to the same journal; the last line
for a key wins.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.errors import UsageError

RUNS_DIR = Path(".mktows") / "runs"
FORMAT = 1


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class Journal:
    """Appends lines, each flushed at once and fsynced by a background syncer (one fsync
    covers every line written before it). `durable=True` waits for the fsync: a `send`
    intent line must be on disk before its non-idempotent request leaves. An outcome line
    lost to a crash in the last milliseconds costs nothing unsafe: resume resends an upsert
    again, and holds back a campaign call as ambiguous because its intent line is there."""

    def __init__(self, path: Path, redact: Callable[[str], str]) -> None:
        self.path = path
        self.redact = redact
        self._cond = threading.Condition()
        self._written = 0
        self._synced = 0
        self._closing = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._syncer = threading.Thread(target=self._sync_loop, name="mktows-journal",
                                        daemon=True)
        self._syncer.start()

    def write(self, record: dict[str, Any], *, durable: bool = False) -> None:
        line = self.redact(json.dumps(record, default=str, separators=(",", ":"))) + "\n"
        with self._cond:
            self._file.write(line)
            self._file.flush()
            self._written += 1
            mine = self._written
            self._cond.notify_all()
            while durable and self._synced < mine:
                self._cond.wait()

    def _sync_loop(self) -> None:
        fd = self._file.fileno()
        while True:
            with self._cond:
                while self._synced >= self._written and not self._closing:
                    self._cond.wait()
                if self._synced >= self._written:
                    return  # closing, and everything is on disk
                upto = self._written
            os.fdatasync(fd)  # outside the lock: writers carry on meanwhile
            with self._cond:
                self._synced = upto
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._syncer.join()
        self._file.close()


@dataclass
class PastRun:
    """What an earlier run's journal says."""

    directory: Path
    header: dict[str, Any]
    done: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> ok call record
    ambiguous: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)

    @property
    def run_id(self) -> str:
        return str(self.header["run_id"])


def find(ref: str, base: Path = RUNS_DIR) -> Path:
    """A run directory from a run id or a path."""
    for candidate in (Path(ref), base / ref):
        if (candidate / "journal.jsonl").is_file():
            return candidate
    known = sorted(p.name for p in base.glob("*") if (p / "journal.jsonl").is_file())[-5:]
    hint = f" (recent runs: {', '.join(known)})" if known else ""
    raise UsageError(f"no run journal found for {ref!r}{hint}")


def read(directory: Path) -> PastRun:
    lines = _records((directory / "journal.jsonl").read_text(encoding="utf-8").splitlines())
    header = next((r for r in lines if r.get("type") == "run"), None)
    if header is None or header.get("format") != FORMAT:
        raise UsageError(f"{directory}/journal.jsonl is not a mktows-run journal (format {FORMAT})")
    past = PastRun(directory, header)
    sent: set[str] = set()
    for record in lines:
        key = str(record.get("key"))
        if record.get("type") == "send":
            sent.add(key)
        elif record.get("type") == "call":
            sent.discard(key)
            past.done.pop(key, None)
            past.ambiguous.pop(key, None)
            past.failed.discard(key)
            status = record.get("status")
            if status == "ok":
                past.done[key] = record
            elif status == "ambiguous":
                past.ambiguous[key] = record
            else:
                past.failed.add(key)
    for key in sent:  # sent, and the run died before the answer was written
        past.ambiguous[key] = {"key": key, "status": "ambiguous", "fault": {
            "code": None, "kind": "ambiguous",
            "message": "the run stopped while this call was in flight"}}
    return past


def _records(lines: Iterable[str]) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut short by a crash: everything before it stands
    return out
