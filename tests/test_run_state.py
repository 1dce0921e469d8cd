"""Issue 12: run state you can trust. A torn or damaged journal, two processes on one run, a
full or failing disk, an unwritable report path, a kill at --concurrency 4, Ctrl-C once and
twice, --deadline, and a gateway's 502 after Marketo acted: each through the real CLI against
the real sandbox over HTTP, judged by the sandbox's own record (its leads and campaign runs):
no campaign call sent twice, no lead lost, an honest exit code, a readable message.

Only what the sandbox cannot do is injected: ENOSPC / EIO from os.write, os.fdatasync or
os.replace, and EROFS from os.open (a read-only mount needs privileges CI may not have).
Waits are bounded polls on files and output, never assertions on elapsed time.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from runner import journal
from runner import sandbox as box
from runner.errors import SoapFaultError, TransportError
from runner.operations import REGISTRY
from runner.retry import AMBIGUOUS, BACKOFF, decide
from runner.sandbox.config import FaultPlan, SandboxConfig
from runner.sandbox.injection import draw
from runner.secrets import Redactor
from runner.soap.auth import w3c_timestamp
from tests.conftest import ROOT, TARGET_YAML, target_env

pytestmark = pytest.mark.timeout(180)

WELCOME = ROOT / "playbooks" / "welcome.yml"
CLI = [sys.executable, "-m", "runner"]

# Upsert every lead (300 a call), then request the welcome campaign for each (100 a call):
# the sandbox's campaign runs say exactly which leads were requested, and how often.
BOOK = "version: 1\nname: run state\n" + TARGET_YAML + """\
steps:
  - id: import
    loop: {file: data/leads.csv, columns: [{name: Email, required: true}]}
    syncMultipleLeads:
      leadRecordList: [{Email: "${item.Email}"}]
  - id: welcome
    loop: {file: data/leads.csv, columns: [{name: Email, required: true}]}
    requestCampaign:
      programName: Welcome Program
      campaignName: Welcome Email
      leadList: [{keyType: EMAIL, keyValue: "${item.Email}"}]
"""


def _book(tmp_path: Path, rows: int) -> list[str]:
    emails = [f"state{i}@example.com" for i in range(rows)]
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "leads.csv").write_text("Email\n" + "".join(f"{e}\n" for e in emails))
    (tmp_path / "book.yml").write_text(BOOK)
    return emails


def _slow_campaigns(seconds: float, **limits: Any) -> SandboxConfig:
    """Every requestCampaign committed, then answered `seconds` late: calls stay in flight."""
    faults = FaultPlan(slow=1.0, slow_seconds=seconds, operations=frozenset({"requestCampaign"}))
    return SandboxConfig(faults=faults, **limits)


def _runs(run_cli: Any, db: Path) -> list[dict[str, Any]]:
    """The sandbox's campaign runs, as `mktows-run sandbox runs --db DB --json` prints them."""
    res = run_cli("sandbox", "runs", "--db", str(db), "--json")
    assert res.code == 0, res.err
    return list(json.loads(res.out))


def _judge(run_cli: Any, db: Path, emails: list[str], report: dict[str, Any] | None,
           complete: bool = True) -> set[str]:
    """Zero lost leads, zero duplicated campaign requests. Returns the emails of calls the
    report calls ambiguous; every other lead was requested exactly once (when `complete`)."""
    leads = box.open_store(db).leads()
    by_email = Counter(lead["email"] for lead in leads)
    assert set(by_email) == set(emails) and max(by_email.values()) == 1  # none lost or doubled
    ids = {lead["email"]: lead["id"] for lead in leads}
    requested = Counter(i for run in _runs(run_cli, db) for i in run["lead_ids"])
    assert max(requested.values(), default=0) <= 1, "a lead was requested twice"
    ambiguous: set[str] = set()
    for step in (report or {}).get("steps", []):
        for call in step["calls"]:
            if step["id"] == "welcome" and call["status"] == "ambiguous":
                batch = int(call["key"].rsplit("-", 1)[1])
                ambiguous |= set(emails[(batch - 1) * 100:batch * 100])
    if complete:
        for email in emails:
            if email not in ambiguous:
                assert requested[ids[email]] == 1, email
    return ambiguous


def _report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _run_dir(tmp_path: Path) -> Path:
    """The run's folder as the CLI names it (relative to the folder it ran in)."""
    (found,) = (tmp_path / ".mktows" / "runs").iterdir()
    return Path(".mktows") / "runs" / found.name


def _abs(path: Any) -> Path:
    return Path(os.path.abspath(path))


def _records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["record"] for line in
            (run_dir / "journal.jsonl").read_text().splitlines() if line.startswith('{"crc32"')]


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll until `predicate` holds (bounded: fails with `what` after `timeout`)."""
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def _journaled(tmp_path: Path, step: str, at_least: int, kind: str = "call"
               ) -> Callable[[], bool]:
    """Whether the run's journal has `at_least` records of `kind` for calls of `step`."""
    needle = f'"type":"{kind}","key":"{step}'.encode()

    def check() -> bool:
        paths = list((tmp_path / ".mktows" / "runs").glob("*/journal.jsonl"))
        return any(path.read_bytes().count(needle) >= at_least for path in paths)
    return check


class Cli:
    """`mktows-run ARGS` as a child process (to be killed or interrupted), its output read as
    it comes so a test can wait for a line. Start it with the `spawn` fixture, which makes
    sure it is gone after the test."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen([*CLI, *args], cwd=cwd, env={**os.environ, **env},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        self.out: list[str] = []
        self._lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._readers = [threading.Thread(target=self._read, args=(stream, sink), daemon=True)
                         for stream, sink in ((self.proc.stderr, self.err),
                                              (self.proc.stdout, self.out))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)
            self._lines.put(line)

    def wait_for_line(self, text: str, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while not any(text in line for line in self.err + self.out):
            assert self.proc.poll() is None or time.monotonic() < end, "".join(self.err)
            assert time.monotonic() < end, f"no line with {text!r}: {''.join(self.err)}"
            with suppress(queue.Empty):
                self._lines.get(timeout=0.1)

    def finish(self, timeout: float = 120.0) -> int:
        code = self.proc.wait(timeout)
        for reader in self._readers:  # EOF once the process is gone
            reader.join(timeout)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()  # type: ignore[union-attr]
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish(timeout=30)

    @property
    def stderr(self) -> str:
        return "".join(self.err)


@pytest.fixture
def spawn() -> Any:
    started: list[Cli] = []

    def start(cwd: Path, env: dict[str, str], *args: str) -> Cli:
        started.append(Cli(cwd, env, *args))
        return started[-1]

    yield start
    for cli in started:
        cli.close()


# -- the journal itself ---------------------------------------------------------------------


def _interrupted_journal(run_cli: Any, tmp_path: Path, info: Any) -> tuple[Path, bytes, bytes]:
    """A run whose last call (scheduleCampaign) was dropped after the sandbox acted: its
    journal up to the durable `send` intent, and the outcome record that followed it."""
    res = run_cli(str(WELCOME), env=target_env(info))
    assert res.code == 1, res.err  # the schedule call is ambiguous
    run_dir = _run_dir(tmp_path)
    data = (run_dir / "journal.jsonl").read_bytes()
    lines = data.splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b'"type":"send","key":"weekly-batch"' in line)
    return run_dir, b"".join(lines[:cut + 1]), lines[cut + 1]


DROP_SCHEDULE = SandboxConfig(faults=FaultPlan(drop_after=1.0,
                                               operations=frozenset({"scheduleCampaign"})))


@pytest.mark.parametrize(("shape", "kept"), [
    ("half a record", False),
    ("the record without its newline", True),
    ("garbage bytes", False),
    ("bytes that are not UTF-8", False),
    ("a JSON array", False),
    ("zeros from a power cut", False),
])
def test_a_torn_tail_is_reported_and_cut_before_the_resume_appends(run_cli, tmp_path, shape,
                                                                   kept):
    with box.running(tmp_path / "box.db", config=DROP_SCHEDULE, strict=True) as info:
        run_dir, head, outcome = _interrupted_journal(run_cli, tmp_path, info)
        tail = {"half a record": outcome[:len(outcome) // 2],
                "the record without its newline": outcome.rstrip(b"\n"),
                "garbage bytes": b"\x07#!garbage{{{",
                "bytes that are not UTF-8": b'{"crc32":"12345678","record":{"k":"\xff\xfe',
                "a JSON array": b"[1, 2, 3]",
                "zeros from a power cut": b"\x00" * 300}[shape]
        (run_dir / "journal.jsonl").write_bytes(head + tail)  # the kill hit this write
        res = run_cli("resume", run_dir.name, env=target_env(info))
        db = info.db_path
        runs = _runs(run_cli, db)
    assert "Traceback" not in res.err
    assert res.code == 1, res.err  # the schedule call is in doubt: held back, said so
    line = head.count(b"\n") + 1
    assert f"line {line}: " in res.err and ("kept" if kept else "dropped") in res.err
    # Nothing was sent twice: one welcome request (done), one schedule (in doubt, held back).
    assert sorted(r["kind"] for r in runs) == ["request", "schedule"]
    past = journal.read(run_dir)  # the journal reads cleanly: nothing was glued to the tail
    assert past.repair is None
    assert set(past.done) == {"sync", "welcome-email/batch-1"}
    assert set(past.ambiguous) == {"weekly-batch"}
    kinds = [r["type"] for r in _records(run_dir)]
    assert kinds.count("resume") == 1 and kinds[-1] == "end"
    report = _report(tmp_path / "results.json")
    assert [s["status"] for s in report["steps"]] == ["ok", "ok", "ambiguous"]


@pytest.mark.parametrize(("damage", "message"), [
    ("checksum", "checksum mismatch"),
    ("not UTF-8", "bytes that are not UTF-8"),
    ("a JSON array", "a JSON list without the record checksum"),
    ("a bare JSON object", "a JSON object without the record checksum"),
    ("garbage", "not a journal record"),
    ("an empty line", "an empty line"),
])
def test_a_damaged_record_in_the_middle_refuses_the_resume_naming_file_and_line(
        run_cli, tmp_path, damage, message):
    with box.running(tmp_path / "box.db", strict=True) as info:
        assert run_cli(str(WELCOME), env=target_env(info)).code == 0
        run_dir = _run_dir(tmp_path)
        path = run_dir / "journal.jsonl"
        lines = path.read_bytes().splitlines(keepends=True)
        second = lines[1]
        lines[1] = {"checksum": second.replace(b'"type":"call"', b'"type":"cal1"'),
                    "not UTF-8": b"\xff\xfe\xfd\n",
                    "a JSON array": b"[1, 2]\n",
                    "a bare JSON object": b'{"type": "call", "key": "sync", "status": "ok"}\n',
                    "garbage": b"#!%garbage\n",
                    "an empty line": b"\n"}[damage]
        path.write_bytes(b"".join(lines))
        before = box.open_store(info.db_path).request_count()
        res = run_cli("resume", run_dir.name, env=target_env(info))
        after = box.open_store(info.db_path).request_count()
    assert res.code == 2, res.err
    assert "Traceback" not in res.err
    assert f"{run_dir / 'journal.jsonl'}:2: {message}" in res.err and "damaged" in res.err
    assert after == before  # nothing sent
    assert path.read_bytes() == b"".join(lines)  # and nothing appended


def test_a_journal_of_another_format_is_refused(run_cli, tmp_path):
    run_dir = tmp_path / ".mktows" / "runs" / "old"
    run_dir.mkdir(parents=True)
    (run_dir / "journal.jsonl").write_text(json.dumps(
        {"type": "run", "format": 1, "run_id": "old", "request": {}}) + "\n")
    res = run_cli("resume", "old")
    assert res.code == 2
    assert "journal format 1" in res.err and "reads format 2 only" in res.err
    future = journal.encode({"type": "run", "format": 99, "run_id": "old"}, Redactor())
    (run_dir / "journal.jsonl").write_bytes(future)
    res = run_cli("resume", "old")
    assert res.code == 2 and "journal format 99" in res.err


def test_the_journal_masks_secrets_before_encoding(tmp_path):
    secret = 'k3y"with\\quote-é'
    redactor = Redactor([secret])
    j = journal.Journal(tmp_path / "j.jsonl", redactor)
    j.write({"type": "call", "key": "x", "fault": {"message": f"server said {secret}"},
             "outputs": {secret: [secret, 1]}, "when": datetime(2026, 1, 1, tzinfo=UTC)})
    j.close()
    text = (tmp_path / "j.jsonl").read_text()
    for form in (secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        assert form not in text
    assert text.count("***") == 3


# -- one process per run --------------------------------------------------------------------


def test_a_live_run_and_a_second_resume_are_refused_naming_the_pid(run_cli, spawn, tmp_path):
    emails = _book(tmp_path, 1000)  # 4 upserts, then 10 campaign calls of 0.5 s each
    with box.running(tmp_path / "box.db", config=_slow_campaigns(0.5), strict=True) as info:
        env = target_env(info)
        first = spawn(tmp_path, env, "book.yml")
        _wait(_journaled(tmp_path, "welcome", 2), "two campaign calls")
        run_dir = _run_dir(tmp_path)
        live = run_cli("resume", run_dir.name, env=env)  # while the run itself is live
        assert live.code == 2, live.err
        assert f"pid {first.proc.pid}" in live.err and "in use" in live.err
        first.proc.send_signal(signal.SIGKILL)
        first.finish()
        assert str(first.proc.pid) in (run_dir / "lock").read_text()  # a dead holder's pid

        resumer = spawn(tmp_path, env, "resume", run_dir.name, "--on-ambiguous", "continue")
        _wait(lambda: "resume" in [r["type"] for r in _records(run_dir)], "the resume")
        second = run_cli("resume", run_dir.name, env=env)
        assert second.code == 2, second.err
        assert f"pid {resumer.proc.pid}" in second.err
        code = resumer.finish()
        report = _report(tmp_path / "results.json")
        ambiguous = _judge(run_cli, info.db_path, emails, report)
    assert code == (1 if ambiguous else 0), resumer.stderr
    assert len(ambiguous) <= 100  # at most the one call in flight at the kill
    assert "Traceback" not in resumer.stderr + second.err + live.err


# -- a full or failing disk -----------------------------------------------------------------


def _fail_journal(monkeypatch: pytest.MonkeyPatch, match: bytes, how: str) -> None:
    """The first journal record containing `match` hits a full disk: `full` fails the write,
    `short` writes half of it first (as a real full disk can), then fails."""
    real = os.write
    state = {"fd": None, "done": False}

    def write(fd: int, data: bytes) -> int:
        if fd == state["fd"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if not state["done"] and bytes(data[:10]) == b'{"crc32":"' and match in bytes(data):
            state["done"] = True
            if how == "short":
                state["fd"] = fd
                return real(fd, data[:len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)


@pytest.mark.parametrize(("match", "how", "sent"), [
    (b'"type":"send","key":"welcome/batch-2"', "full", False),
    (b'"type":"send","key":"welcome/batch-2"', "short", False),
    (b'"type":"call","key":"welcome/batch-2"', "full", True),
    (b'"type":"call","key":"welcome/batch-2"', "short", True),
])
def test_a_full_disk_under_the_journal_is_reported_and_a_resume_repeats_nothing(
        run_cli, tmp_path, monkeypatch, match, how, sent):
    emails = _book(tmp_path, 450)  # 2 upserts, then 5 campaign calls
    with box.running(tmp_path / "box.db", strict=True) as info, monkeypatch.context() as m:
        env = target_env(info)
        _fail_journal(m, match, how)
        res = run_cli("book.yml", "--junit", "junit.xml", env=env)
        m.undo()
        run_dir = _run_dir(tmp_path)
        journal_path = run_dir / "journal.jsonl"
        assert res.code == 1, res.err
        assert "Traceback" not in res.err
        assert f"cannot write {journal_path}: No space left on device" in res.err
        past = journal.read(run_dir)
        assert past.repair is None  # the half-written record was cut back: nothing torn
        report = _report(tmp_path / "results.json")
        assert report["status"] == "interrupted"
        welcome = report["steps"][1]
        assert welcome["status"] == "interrupted"
        made = 2 if sent else 1
        assert welcome["fault"]["message"].endswith(f"{made} of 5 calls made, {5 - made} not sent")
        assert "No space left on device" in welcome["fault"]["message"]
        assert (tmp_path / "junit.xml").is_file()
        requested = [i for run in _runs(run_cli, info.db_path) for i in run["lead_ids"]]
        assert len(requested) == 100 * made  # the call whose intent failed was never sent

        again = run_cli("resume", run_dir.name, "--on-ambiguous", "continue", env=env)
        report = _report(tmp_path / "results.json")
        ambiguous = _judge(run_cli, info.db_path, emails, report)
    # A call made but not recorded is in doubt (its intent is there): held back, not resent.
    assert ambiguous == (set(emails[100:200]) if sent else set())
    assert again.code == (1 if sent else 0), again.err


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Any:
    """A real 64 KiB filesystem (tmpfs), where mounting is allowed (root, outside most CI);
    the test is skipped elsewhere. Yields a function that gives it more room."""
    where = tmp_path / "tiny"
    where.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip()}")

    def grow() -> None:
        subprocess.run(["mount", "-o", "remount,size=8m", str(where)], check=True)

    try:
        yield where, grow
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_really_full_disk_mid_run_is_reported_and_a_resume_repeats_nothing(run_cli, tmp_path,
                                                                            tiny_fs):
    where, grow = tiny_fs
    src = tmp_path / "src"
    src.mkdir()
    emails = _book(src, 3000)  # each upsert's outcome is ~10 KB of journal: 64 KiB fills up
    spare = tmp_path / "spare"
    spare.mkdir()
    with box.running(tmp_path / "box.db", strict=True) as info:
        env = {**os.environ, **target_env(info), "TMPDIR": str(spare)}
        run = subprocess.run([*CLI, str(src / "book.yml")], cwd=where, env=env,
                             capture_output=True, text=True, timeout=120)
        (found,) = (where / ".mktows" / "runs").iterdir()
        run_dir = Path(".mktows") / "runs" / found.name
        assert run.returncode == 1, run.stderr
        assert "Traceback" not in run.stderr
        assert f"cannot write {run_dir / 'journal.jsonl'}: No space left on device" in run.stderr
        fallback = spare / f"mktows-run-{found.name}" / "results.json"
        assert f"written to {fallback} instead" in run.stderr
        assert _report(fallback)["status"] == "interrupted"
        past = journal.read(found)  # consistent: whole records only
        assert past.repair is None
        grow()
        again = subprocess.run([*CLI, "resume", found.name], cwd=where, env=env,
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert _judge(run_cli, info.db_path, emails, _report(where / "results.json")) == set()


def test_a_failing_fsync_stops_the_run_before_the_next_campaign_call(run_cli, tmp_path,
                                                                      monkeypatch):
    emails = _book(tmp_path, 150)
    with box.running(tmp_path / "box.db", strict=True) as info, monkeypatch.context() as m:
        env = target_env(info)
        real = os.fdatasync
        calls = {"n": 0}

        def fdatasync(fd: int) -> None:
            calls["n"] += 1
            if calls["n"] > 1:  # the header is on disk; the first intent's sync fails
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            real(fd)

        m.setattr(os, "fdatasync", fdatasync)
        res = run_cli("book.yml", env=env)
        m.undo()
        assert res.code == 1, res.err
        assert "Traceback" not in res.err and "Input/output error" in res.err
        assert _runs(run_cli, info.db_path) == []  # no campaign call without a durable intent
        again = run_cli("resume", _run_dir(tmp_path).name, env=env)
        assert again.code == 0, again.err
        assert _judge(run_cli, info.db_path, emails, _report(tmp_path / "results.json")) == set()



def test_a_journal_whose_last_sync_fails_is_no_success(run_cli, tmp_path, monkeypatch):
    """Every call was sent and answered, but the sync of the journal's end (the outcomes
    are synced in the background, so theirs may be the same one) failed: what is on disk
    cannot be trusted, and exit 0 would say it can."""
    with box.running(tmp_path / "box.db", strict=True) as info, monkeypatch.context() as m:
        real = os.fdatasync

        def fdatasync(fd: int) -> None:
            size = os.fstat(fd).st_size
            if b'"type":"end"' in os.pread(fd, size, 0):
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            real(fd)

        m.setattr(os, "fdatasync", fdatasync)
        res = run_cli(str(WELCOME), env=target_env(info))
    assert res.code == 1, res.err
    assert "Traceback" not in res.err
    assert f"{_run_dir(tmp_path) / 'journal.jsonl'}" in res.err and "Input/output error" in res.err

def _full(monkeypatch: pytest.MonkeyPatch, full: Callable[[Path], bool]) -> None:
    """Renaming a report into place fails with ENOSPC where `full` says the disk is full."""
    real = os.replace

    def replace(src: Any, dst: Any) -> None:
        if full(_abs(dst)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def test_a_full_disk_under_a_report_falls_back_to_the_run_folder_and_says_so(run_cli, tmp_path,
                                                                           monkeypatch):
    out = tmp_path / "out"
    with box.running(tmp_path / "box.db", strict=True) as info:
        with monkeypatch.context() as m:
            _full(m, lambda dst: dst.parent == out)
            res = run_cli(str(WELCOME), "--report", "out/results.json", "--junit",
                          "out/junit.xml", env=target_env(info))
        runs = _runs(run_cli, info.db_path)
    run_dir = _run_dir(tmp_path)
    assert res.code == 1, res.err  # every step succeeded, but a report did not land: not green
    assert "Traceback" not in res.err
    assert (f"error: cannot write out/results.json: No space left on device; written to "
            f"{run_dir / 'results.json'} instead") in res.err
    assert (f"error: cannot write out/junit.xml: No space left on device; written to "
            f"{run_dir / 'junit.xml'} instead") in res.err
    assert _report(tmp_path / run_dir / "results.json")["status"] == "ok"
    assert (tmp_path / run_dir / "junit.xml").read_text().count("<testcase") == 3
    assert list(out.iterdir()) == []  # no temporary file left behind
    assert len(runs) == 2


def test_when_the_run_folder_is_full_too_the_reports_go_to_the_temporary_folder(
        run_cli, tmp_path, monkeypatch):
    spare = tmp_path / "spare"
    with box.running(tmp_path / "box.db", strict=True) as info, monkeypatch.context() as m:
        _full(m, lambda dst: spare not in dst.parents)
        m.setattr("tempfile.tempdir", str(spare))
        res = run_cli(str(WELCOME), env=target_env(info))
    run_dir = _run_dir(tmp_path)
    fallback = spare / f"mktows-run-{run_dir.name}"
    assert res.code == 1, res.err
    assert (f"cannot write {run_dir / 'results.json'}: No space left on device; written to "
            f"{fallback / 'results.json'} instead") in res.err
    assert (f"cannot write results.json: No space left on device; written to "
            f"{fallback / 'results.json'} instead") in res.err
    assert _report(fallback / "results.json")["status"] == "ok"
    assert not (tmp_path / "results.json").exists()


# -- report paths, checked before the first request -----------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (("--report", "taken/results.json"), "--report taken/results.json: taken is a file, not a folder"),
    (("--junit", "folder"), "Invalid value for '--junit': File 'folder' is a directory"),
    (("--markdown", "taken/x/summary.md"), "--markdown taken/x/summary.md: taken is a file"),
])
def test_an_unusable_report_path_is_exit_2_before_anything_is_sent(run_cli, tmp_path, args,
                                                                   message):
    (tmp_path / "taken").write_text("a file\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "results.json").write_text('{"stale": true}\n')
    with box.running(tmp_path / "box.db", strict=True) as info:
        res = run_cli(str(WELCOME), *args, env=target_env(info))
        sent = box.open_store(info.db_path).request_count()
    assert res.code == 2, res.err
    assert message in res.err
    assert sent == 0
    assert (tmp_path / "results.json").read_text() == '{"stale": true}\n'  # untouched
    assert not (tmp_path / ".mktows" / "runs").exists()


def test_a_read_only_report_folder_is_exit_2_before_anything_is_sent(run_cli, tmp_path,
                                                                     monkeypatch):
    """The folder is read-only as a read-only mount is: every create in it fails with EROFS
    (chmod would not stop root, and mounting needs privileges)."""
    locked = tmp_path / "ro"
    locked.mkdir()
    real = os.open

    def open_(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if _abs(path).parent == locked and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real(path, flags, *args, **kw)

    with box.running(tmp_path / "box.db", strict=True) as info:
        monkeypatch.setattr(os, "open", open_)
        res = run_cli(str(WELCOME), "--report", "ro/results.json", env=target_env(info))
        monkeypatch.undo()
        sent = box.open_store(info.db_path).request_count()
    assert res.code == 2, res.err
    assert "--report ro/results.json: cannot write in ro: Read-only file system" in res.err
    assert sent == 0


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into a read-only folder anyway")
def test_a_folder_without_write_permission_is_exit_2_before_anything_is_sent(run_cli,
                                                                            tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with box.running(tmp_path / "box.db", strict=True) as info:
            res = run_cli(str(WELCOME), "--junit", "locked/junit.xml", env=target_env(info))
            sent = box.open_store(info.db_path).request_count()
    finally:
        locked.chmod(0o755)
    assert res.code == 2 and "Permission denied" in res.err and sent == 0


@pytest.mark.parametrize(("args", "message"), [
    (("--envelopes", "taken/env"), "--envelopes taken/env: taken is a file, not a folder"),
    (("--envelopes", "taken"), "Invalid value for '--envelopes': Directory 'taken' is a file"),
    (("--markdown", "taken/plan.md"), "--markdown taken/plan.md: taken is a file, not a folder"),
    (("--markdown", "folder"), "Invalid value for '--markdown': File 'folder' is a directory"),
])
def test_plan_checks_its_output_paths_before_writing_anything(run_cli, tmp_path, args,
                                                              message):
    (tmp_path / "taken").write_text("x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "welcome.yml").write_text(WELCOME.read_text())
    res = run_cli("plan", "welcome.yml", *args)
    assert res.code == 2, res.err
    assert message in res.err and "Traceback" not in res.err
    assert res.out == ""  # refused before the plan was made


def test_a_resume_is_not_doomed_by_a_stored_report_path_that_broke(run_cli, tmp_path):
    with box.running(tmp_path / "box.db", config=DROP_SCHEDULE, strict=True) as info:
        env = target_env(info)
        assert run_cli(str(WELCOME), "--report", "out/r.json", env=env).code == 1
        run_dir = _run_dir(tmp_path)
        (tmp_path / "out" / "r.json").unlink()
        (tmp_path / "out").rmdir()
        (tmp_path / "out").write_text("now a file\n")
        res = run_cli("resume", run_dir.name, env=env)
        assert res.code == 1, res.err  # the schedule call is still in doubt; said so
        assert "warning: --report out/r.json: out is a file, not a folder" in res.err
        assert _report(run_dir / "results.json")["steps"][2]["status"] == "ambiguous"
        other = run_cli("resume", run_dir.name, "--report", "elsewhere.json", env=env)
        assert other.code == 1 and (tmp_path / "elsewhere.json").is_file()
        assert len(_runs(run_cli, info.db_path)) == 2  # one request, one schedule: no repeat


# -- outcomes journaled as calls settle, whatever the concurrency -----------------------------


def test_a_kill_at_concurrency_4_leaves_at_most_the_calls_in_flight_in_doubt(run_cli, spawn,
                                                                             tmp_path):
    emails = _book(tmp_path, 3000)  # 10 upserts, then 30 campaign calls of 0.4 s, 4 at a time
    with box.running(tmp_path / "box.db", config=_slow_campaigns(0.4), strict=True) as info:
        env = target_env(info)
        run = spawn(tmp_path, env, "book.yml", "--concurrency", "4")
        _wait(_journaled(tmp_path, "welcome", 8), "eight campaign outcomes")
        run.proc.send_signal(signal.SIGKILL)
        run.finish()
        run_dir = _run_dir(tmp_path)
        records = _records(run_dir)
        answered = {r["key"] for r in records if r["type"] == "call"}
        in_doubt = {r["key"] for r in records if r["type"] == "send"} - answered
        sandbox_acted = len(_runs(run_cli, info.db_path))
        # Every campaign call the sandbox answered before the kill is recorded, except the
        # ones still in flight (at most 4), whose answer was on its way.
        assert len(in_doubt) <= 4
        assert sandbox_acted <= len([k for k in answered if k.startswith("welcome/")]) + 4

        resumed = run_cli("resume", run_dir.name, "--on-ambiguous", "continue", env=env)
        report = _report(tmp_path / "results.json")
        ambiguous = _judge(run_cli, info.db_path, emails, report)
    assert {c["key"] for s in report["steps"] for c in s["calls"]
            if c["status"] == "ambiguous"} == in_doubt
    assert len(ambiguous) <= 4 * 100
    assert resumed.code == (1 if in_doubt else 0), resumed.err


# -- Ctrl-C once, Ctrl-C twice, and --deadline ------------------------------------------------


def test_ctrl_c_finishes_the_calls_in_flight_and_reports_the_step_interrupted(run_cli, spawn,
                                                                             tmp_path):
    emails = _book(tmp_path, 2000)
    with box.running(tmp_path / "box.db", config=_slow_campaigns(0.3), strict=True) as info:
        env = target_env(info)
        run = spawn(tmp_path, env, "book.yml", "--concurrency", "2")
        _wait(_journaled(tmp_path, "welcome", 2), "two campaign outcomes")
        run.proc.send_signal(signal.SIGINT)
        code = run.finish()
        run_dir = _run_dir(tmp_path)
        report = _report(tmp_path / "results.json")
        welcome = report["steps"][1]
        end = _records(run_dir)[-1]
        made = len(welcome["calls"])
        assert code == 130, run.stderr
        assert "Traceback" not in run.stderr
        assert report["status"] == "interrupted" and welcome["status"] == "interrupted"
        assert all(c["status"] == "ok" for c in welcome["calls"])  # in flight: finished
        note = f"interrupted: {made} of 20 calls made, {20 - made} not sent"
        assert welcome["fault"] == {"code": None, "message": note, "kind": None}
        assert f"step welcome: {note}" in run.stderr
        assert (end["type"], end["status"], end["reason"]) == ("end", "interrupted", "interrupt")
        assert end["interrupted_steps"] == {"welcome": note}
        assert report == _report(run_dir / "results.json")

        again = run_cli("resume", run_dir.name, env=env)
        assert again.code == 0, again.err
        assert _judge(run_cli, info.db_path, emails, _report(tmp_path / "results.json")) == set()


def test_a_second_ctrl_c_stops_at_once_and_still_writes_this_runs_report(run_cli, spawn, tmp_path):
    emails = _book(tmp_path, 800)  # 3 upserts, then 8 campaign calls of 5 s, 4 at a time
    (tmp_path / "results.json").write_text('{"stale": "a previous run"}\n')
    with box.running(tmp_path / "box.db", config=_slow_campaigns(5.0), strict=True) as info:
        env = target_env(info)
        run = spawn(tmp_path, env, "book.yml", "--concurrency", "4")
        _wait(_journaled(tmp_path, "welcome", 4, kind="send"), "four campaign calls in flight")
        assert not (tmp_path / "results.json").exists()  # the stale one is gone once sending
        run.proc.send_signal(signal.SIGINT)
        run.wait_for_line("Ctrl-C again to stop at once")
        run.proc.send_signal(signal.SIGINT)
        code = run.finish(timeout=30)
        run_dir = _run_dir(tmp_path)
        report = _report(tmp_path / "results.json")
        end = _records(run_dir)[-1]
        assert code == 130, run.stderr
        assert "Traceback" not in run.stderr
        assert report["run_id"] == run_dir.name and report["status"] == "interrupted"
        welcome = report["steps"][1]
        in_flight = [c for c in welcome["calls"] if c["status"] == "ambiguous"]
        assert 1 <= len(in_flight) <= 4 and welcome["status"] == "ambiguous"
        assert "second Ctrl-C" in in_flight[0]["fault"]["message"]
        assert (end["type"], end["status"], end["reason"]) == ("end", "interrupted", "abort")

        again = run_cli("resume", run_dir.name, "--on-ambiguous", "continue", env=env)
        report = _report(tmp_path / "results.json")
        ambiguous = _judge(run_cli, info.db_path, emails, report)
    assert again.code == 1, again.err  # what was in flight is in doubt: held back, said so
    assert 1 <= len(ambiguous) // 100 <= 4


def test_the_deadline_bounds_the_run_and_ends_it_interrupted_with_exit_1(run_cli, tmp_path):
    emails = _book(tmp_path, 600)  # 2 upserts, then 6 campaign calls of 1 s: 6 s at the least
    stopped_at = re.compile(r"stopped at the run deadline \(2s\): (\d+) of (\d+) calls made, "
                            r"(\d+) not sent")
    with box.running(tmp_path / "box.db", config=_slow_campaigns(1.0), strict=True) as info:
        env = target_env(info)
        res = run_cli("book.yml", "--deadline", "2s", env=env)
        report = _report(tmp_path / "results.json")
        assert res.code == 1, res.err
        assert report["status"] == "interrupted"
        (step,) = [s for s in report["steps"] if s["status"] == "interrupted"]
        match = stopped_at.fullmatch(step["fault"]["message"])
        assert match is not None, step["fault"]
        made, planned, left = map(int, match.groups())
        assert made == len(step["calls"]) and made + left == planned and left > 0
        assert f"step {step['id']}: {match[0]}" in res.err
        assert all(c["status"] == "ok" for s in report["steps"] for c in s["calls"])
        # A resume has the same deadline: a few resumes finish the job, repeating nothing.
        for _ in range(10):
            again = run_cli("resume", _run_dir(tmp_path).name, env=env)
            if _report(tmp_path / "results.json")["status"] != "interrupted":
                break
        assert again.code == 0, again.err
        assert _judge(run_cli, info.db_path, emails, _report(tmp_path / "results.json")) == set()


def test_the_deadline_also_stops_a_retry_that_would_overrun_it(run_cli, tmp_path):
    faults = FaultPlan(http503=1.0, operations=frozenset({"syncLead"}))
    with box.running(tmp_path / "box.db", config=SandboxConfig(faults=faults)) as info:
        res = run_cli(str(WELCOME), "--deadline", "1s", "--retry-backoff", "30",
                      env=target_env(info))
        requests = box.open_store(info.db_path).requests()
    assert res.code == 1, res.err
    writes = [r for r in requests if r["operation"] != "getCampaignsForSource"]  # (preflight)
    assert len(writes) == 1  # one attempt; its 15-45 s backoff would pass the deadline
    report = _report(tmp_path / "results.json")
    sync = report["steps"][0]
    assert sync["status"] == "failed"
    assert sync["fault"]["message"].endswith("(not retried: the run deadline was reached)")
    assert report["status"] == "interrupted"


# -- a gateway's 502 after Marketo acted ------------------------------------------------------


@pytest.mark.parametrize("kind", ["http502_after", "http504_after"])
def test_a_gateway_error_after_the_campaign_ran_is_ambiguous_and_never_resent(run_cli,
                                                                              tmp_path, kind):
    faults = FaultPlan(operations=frozenset({"requestCampaign"}), **{kind: 1.0})
    with box.running(tmp_path / "box.db", config=SandboxConfig(faults=faults)) as info:
        env = target_env(info)
        res = run_cli(str(WELCOME), env=env)
        again = run_cli("resume", _run_dir(tmp_path).name, env=env)
        runs = _runs(run_cli, info.db_path)
        (row,) = [r for r in box.open_store(info.db_path).requests()
                  if r["operation"] == "requestCampaign"]
    assert res.code == 1 and again.code == 1, res.err + again.err
    assert (row["injected"], row["applied"]) == (kind, True)  # the sandbox did act
    assert [r["kind"] for r in runs] == ["request"]  # once, and never again
    report = _report(tmp_path / "results.json")
    welcome = report["steps"][1]
    assert welcome["status"] == "ambiguous" and welcome["calls"][0]["resumed"]
    assert "gateway" in welcome["fault"]["message"]


def test_the_served_sandbox_reproduces_acted_then_502_from_its_seeded_faults(run_cli, spawn,
                                                                           tmp_path):
    """`mktows-run sandbox --seed S --fault http502_after=0.5`: a seed whose request 1 (the
    syncLead) passes and request 2 (the requestCampaign) is answered 502 after acting."""
    seed = next(s for s in range(10_000) if draw(s, 1) >= 0.5 > draw(s, 2))
    db = tmp_path / "served.db"
    server = spawn(tmp_path, {}, "sandbox", "--port", "0", "--db", str(db), "--seed", str(seed),
                 "--fault", "http502_after=0.5")
    try:
        server.wait_for_line("encryption key:")
        fields = dict(re.findall(r"^\s+([a-z ]+):\s+(\S+)", "".join(server.out), re.M))
        env = {"MKTOWS_ENDPOINT": fields["endpoint"], "MKTOWS_USER_ID": fields["user id"],
               "MKTOWS_ENCRYPTION_KEY": fields["encryption key"]}
        res = run_cli(str(WELCOME), env=env)
        runs = _runs(run_cli, db)
    finally:
        server.proc.send_signal(signal.SIGINT)
        server.finish(timeout=30)
    assert res.code == 1, res.err
    assert "AMBIGUOUS" in res.out and "gateway" in res.out
    assert [r["kind"] for r in runs] == ["request"]
    report = _report(tmp_path / "results.json")
    assert [s["status"] for s in report["steps"]] == ["ok", "ambiguous", "skipped"]


def test_each_5xx_is_judged_by_whether_the_server_can_have_acted():
    for status, campaign in ((500, BACKOFF), (503, BACKOFF), (502, AMBIGUOUS),
                             (504, AMBIGUOUS), (520, AMBIGUOUS), (524, AMBIGUOUS)):
        error = TransportError(f"HTTP {status}", sent=True, http_status=status)
        assert decide(error, REGISTRY["requestCampaign"].idempotent) == campaign
        assert decide(error, REGISTRY["scheduleCampaign"].idempotent) == campaign
        assert decide(error, REGISTRY["syncMultipleLeads"].idempotent) == BACKOFF  # an upsert: safe to resend
    assert decide(SoapFaultError(10001, "internal"), REGISTRY["requestCampaign"].idempotent) == AMBIGUOUS
    assert decide(SoapFaultError(20011, "internal"), REGISTRY["scheduleCampaign"].idempotent) == AMBIGUOUS
    assert decide(SoapFaultError(10001, "internal"), REGISTRY["syncLead"].idempotent) == BACKOFF
    assert decide(SoapFaultError(20023, "rate"), REGISTRY["requestCampaign"].idempotent) == BACKOFF


# -- minor: a retried success, timestamps, run ids --------------------------------------------


def test_an_ok_call_that_needed_retries_has_no_fault_but_keeps_its_retries(run_cli, tmp_path):
    seed = next(s for s in range(10_000) if draw(s, 1) < 0.5 <= draw(s, 2))
    faults = FaultPlan(seed=seed, fault20023=0.5)
    with box.running(tmp_path / "box.db", config=SandboxConfig(faults=faults)) as info:
        res = run_cli(str(WELCOME), "--only", "sync", "--retry-backoff", "0.01",
                      env=target_env(info))
    assert res.code == 0, res.err
    call = _report(tmp_path / "results.json")["steps"][0]["calls"][0]
    assert (call["status"], call["attempts"], call["fault"]) == ("ok", 2, None)
    assert [r["reason"] for r in call["retries"]] == ["fault 20023"]
    record = next(r for r in _records(_run_dir(tmp_path)) if r["type"] == "call")
    assert record["fault"] is None and record["retries"][0]["reason"] == "fault 20023"


def test_a_timezone_with_a_seconds_offset_signs_hh_mm(tmp_path):
    stamp = w3c_timestamp(datetime(2026, 3, 1, 10, 0, 0, 500,
                                   tzinfo=timezone(timedelta(hours=5, minutes=30, seconds=17))))
    assert stamp == "2026-03-01T09:59:43+05:30"  # the same instant, a valid offset
    assert datetime.fromisoformat(stamp) == datetime(2026, 3, 1, 4, 29, 43, tzinfo=UTC)
    # Through the CLI, in a zone whose offset has seconds (POSIX TZ: west is positive).
    (tmp_path / "welcome.yml").write_text(WELCOME.read_text())
    env = {**os.environ, "TZ": "LMT-5:30:17"}
    plan = subprocess.run([*CLI, "plan", "welcome.yml", "--envelopes", "env"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert plan.returncode == 0, plan.stderr
    stamps = [re.search(r"<requestTimestamp>([^<]*)<", p.read_text())[1]  # type: ignore[index]
              for p in sorted((tmp_path / "env").iterdir())]
    assert stamps and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30", s)
                          for s in stamps), stamps
    run = subprocess.run([*CLI, "welcome.yml", "--sandbox"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_run_ids_are_utc_and_sort_by_start_time():
    east = datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone(timedelta(hours=9)))  # 01:00 UTC
    west = datetime(2026, 3, 1, 2, 0, 0, tzinfo=timezone(timedelta(hours=-5)))  # 07:00 UTC
    first, second = journal.new_run_id(east), journal.new_run_id(west)
    assert first.startswith("20260301T010000Z-") and second.startswith("20260301T070000Z-")
    assert sorted([second, first]) == [first, second]



def test_outcomes_share_an_fsync_and_an_intent_is_synced_at_once(tmp_path, monkeypatch):
    """Issue 19: outcomes are fsynced in the background, many to one fsync (each call waking
    the syncer for its own cost the sending threads more than the disk did); an intent does
    not wait for that pause. (A broken intent path would hang here, never pass.)"""
    synced: list[int] = []
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(journal, "SYNC_EVERY_S", 3600.0)  # an outcome alone would wait an hour
    log = journal.Journal(tmp_path / "journal.jsonl", Redactor())
    for i in range(50):
        log.write({"type": "call", "key": f"sync/item-{i}", "status": "ok"})
    log.write({"type": "send", "key": "welcome/batch-1"}, durable=True)
    assert len(synced) == 1  # the intent's fsync took the 50 outcomes with it
    log.close()
    assert len(synced) == 1  # nothing was left to sync
    assert len((tmp_path / "journal.jsonl").read_bytes().splitlines()) == 51
