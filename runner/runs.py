"""One run from the command line's point of view: check the report paths, lock the run, start
the sandbox if asked, open the journal, send, write the reports, pick the exit code. `resume`
is the same run again, from its journal. No click here (cli.py turns flags into a RunRequest).

Environment failures (disk full, read-only, permission, I/O) on the journal or a report are
StorageErrors: a message naming the file, exit 1, never a traceback. The journal then ends at
its last whole record; each report is written to a fallback folder (the run's folder, then the
system's temporary folder) and the console says where.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runner import app, journal
from runner.errors import ExitCode, StorageError, UsageError
from runner.executor import ExecOptions, Stop
from runner.model import RunResult
from runner.ratelimit import Rate
from runner.report import files
from runner.retry import RetryPolicy
from runner.runlock import RunLock
from runner.secrets import Secret
from runner.walk import Selection

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class RunRequest:
    playbook: Path
    wsdl: str
    cli_vars: dict[str, str] = field(default_factory=dict)
    vars_files: tuple[Path, ...] = ()
    secrets_file: Path | None = None
    sandbox: bool = False
    sandbox_db: Path = Path(".mktows") / "sandbox.db"
    report: Path = Path("results.json")
    junit: Path | None = None
    markdown: Path | None = None
    execution: ExecOptions = field(default_factory=ExecOptions)
    allow_insecure_http: bool = False
    read_timeout_s: float = 60.0  # between two bytes of a reply
    call_timeout_s: float = 300.0  # a call's whole reply

    def to_json(self) -> dict[str, Any]:
        """The request as the journal keeps it: paths and choices, never secret values."""
        e = self.execution
        return {
            "playbook": str(self.playbook.resolve()), "wsdl": self.wsdl,
            "cli_vars": self.cli_vars, "vars_files": [str(p.resolve()) for p in self.vars_files],
            "secrets_file": str(self.secrets_file.resolve()) if self.secrets_file else None,
            "sandbox": self.sandbox, "sandbox_db": str(self.sandbox_db.resolve()),
            "report": str(self.report), "junit": str(self.junit) if self.junit else None,
            "markdown": str(self.markdown) if self.markdown else None,
            "allow_insecure_http": self.allow_insecure_http,
            "timeouts": {"read_s": self.read_timeout_s, "call_s": self.call_timeout_s},
            "concurrency": e.concurrency, "rate": [e.rate.calls, e.rate.window_s],
            "retry": asdict(e.policy), "deadline_s": e.deadline_s,
            "continue_on_ambiguous": e.continue_on_ambiguous,
            "selection": {"only": sorted(e.selection.only), "skip": sorted(e.selection.skip),
                          "tags": sorted(e.selection.tags),
                          "limit_items": e.selection.limit_items},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRequest:
        sel = data.get("selection") or {}
        timeouts = data.get("timeouts") or {}
        execution = ExecOptions(
            concurrency=int(data.get("concurrency", 1)), rate=Rate(*data.get("rate", (100, 20.0))),
            policy=RetryPolicy(**(data.get("retry") or {})), deadline_s=data.get("deadline_s"),
            continue_on_ambiguous=bool(data.get("continue_on_ambiguous")),
            selection=Selection(frozenset(sel.get("only", ())), frozenset(sel.get("skip", ())),
                                frozenset(sel.get("tags", ())), sel.get("limit_items")))
        return cls(
            playbook=Path(data["playbook"]), wsdl=data["wsdl"], cli_vars=data.get("cli_vars", {}),
            vars_files=tuple(Path(p) for p in data.get("vars_files", ())),
            secrets_file=Path(data["secrets_file"]) if data.get("secrets_file") else None,
            sandbox=bool(data.get("sandbox")), sandbox_db=Path(data["sandbox_db"]),
            report=Path(data.get("report") or "results.json"),
            junit=Path(data["junit"]) if data.get("junit") else None,
            markdown=Path(data["markdown"]) if data.get("markdown") else None,
            execution=execution, allow_insecure_http=bool(data.get("allow_insecure_http")),
            read_timeout_s=float(timeouts.get("read_s", 60.0)),
            call_timeout_s=float(timeouts.get("call_s", 300.0)))


def check_endpoint(endpoint: str, allow_insecure_http: bool) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"the endpoint {endpoint!r} is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK and not allow_insecure_http:
        raise UsageError(f"refusing plain http:// to {parts.hostname}: the request signature "
                         "and your leads' data would cross the network unencrypted; use "
                         "https://, or --allow-insecure-http if you really mean it")


@contextmanager
def _interruptible(stop: Stop, say: Any) -> Iterator[None]:
    """First Ctrl-C (or SIGTERM): finish the calls in flight, then stop. Second: stop now (the
    executor reports what was in flight as unknown, and the reports are still written)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.halt("interrupt")
        say("interrupted: finishing the calls in flight, then writing the journal and reports "
            "(Ctrl-C again to stop at once)")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass(frozen=True)
class _Reports:
    """Where this run's reports go; None: not asked for (or, on resume, not writable now)."""

    results: Path | None
    junit: Path | None
    markdown: Path | None


def _check_reports(req: RunRequest, resuming: bool, console: Any) -> _Reports:
    """Before anything is sent: every report path can be written (exit 2 otherwise). A resume
    is not doomed by a path stored with the run that no longer works: it warns and goes on,
    with results.json in the run's folder."""
    paths: dict[str, Path | None] = {}
    for option, path in (("--report", req.report), ("--junit", req.junit),
                         ("--markdown", req.markdown)):
        if path is not None:
            try:
                files.check_file(path, option)
            except UsageError as exc:
                if not resuming:
                    raise
                console.info(f"warning: {exc}; this report is not written (resume with "
                             f"{option} PATH to choose another; results.json is in the run's "
                             "folder)")
                path = None
        paths[option] = path
    return _Reports(paths["--report"], paths["--junit"], paths["--markdown"])


def execute(req: RunRequest, plan: app.Plan, console: Any, *,
            past: journal.PastRun | None = None, run_dir: Path | None = None,
            lock: RunLock | None = None) -> int:
    reports = _check_reports(req, past is not None, console)
    now = datetime.now().astimezone()
    run_id = past.run_id if past else journal.new_run_id(now)
    run_dir = run_dir or (journal.RUNS_DIR / run_id)
    own = lock is None  # a resume holds its lock already (it was taken to read the journal)
    lock = lock or RunLock(run_dir)
    try:
        return _execute(req, plan, console, past, run_id, run_dir, reports, now,
                        lock if own else None)
    finally:
        if own:
            lock.release()


def _execute(req: RunRequest, plan: app.Plan, console: Any, past: journal.PastRun | None,
             run_id: str, run_dir: Path, reports: _Reports, now: datetime,
             lock: RunLock | None) -> int:
    from runner import sandbox as box
    from runner.transport import HttpTransport, Timeouts

    stop = Stop()
    transport = HttpTransport(Timeouts(read=req.read_timeout_s, total=req.call_timeout_s))
    box_ctx = box.running(req.sandbox_db) if req.sandbox else nullcontext(None)
    try:
        with box_ctx as info:
            if info is not None:
                plan.target = app.Target(info.endpoint, info.user_id, Secret(info.encryption_key))
                plan.redactor.add(info.encryption_key)
                console.info(f"sandbox: {info.endpoint} (user {info.user_id}, db {req.sandbox_db})")
            assert plan.target is not None
            check_endpoint(plan.target.endpoint, req.allow_insecure_http)
            if info is None:
                console.info(f"target: {plan.target.endpoint}")
            if lock is not None:
                lock.acquire(run_id)  # held until the reports are written
            run_journal = _open_journal(req, plan, console, past, run_id, run_dir, now)
            try:
                # This run's reports are written at its end: until then, the previous run's
                # must not be there to be read as this one's (say after a second Ctrl-C).
                _discard(console, reports.results, reports.junit, reports.markdown,
                         run_dir / "results.json")
                with _interruptible(stop, console.info):
                    result = app.execute(plan, transport, req.execution, run_journal=run_journal,
                                         past=past, run_id=run_id, observe=console.call,
                                         stop=stop)
                end = {"type": "end", "status": result.status, "reason": stop.reason,
                       "finished_at": result.finished_at,
                       "interrupted_steps": {s.id: s.note for s in result.steps if s.note}}
                with suppress(StorageError):  # already failed: stop.error has it
                    run_journal.write(end, durable=True)
            finally:
                run_journal.close()
    finally:
        transport.close()
    unwritten = _write_reports(result, reports, run_dir, plan, console)
    _explain(result, stop, console, run_id)
    console.summary(result, str(reports.results or run_dir / "results.json"))
    return exit_code(result, stop.reason, failed_storage=bool(unwritten) or stop.error is not None)


def _open_journal(req: RunRequest, plan: app.Plan, console: Any, past: journal.PastRun | None,
                  run_id: str, run_dir: Path, now: datetime) -> journal.Journal:
    """The journal, its torn tail (if any) cut first, and this run's first record durable
    before anything is sent."""
    path = run_dir / journal.JOURNAL
    repair = past.repair if past else None
    run_journal = journal.Journal(path, plan.redactor, repair=repair)
    if repair is not None and repair.note:
        console.info(f"journal {path}: {repair.note}")
    try:
        if past is None:
            run_journal.write({"type": "run", "format": journal.FORMAT, "run_id": run_id,
                               "started_at": now.isoformat(timespec="seconds"),
                               "request": req.to_json(), "hashes": app.input_hashes(plan)},
                              durable=True)
        else:
            run_journal.write({"type": "resume", "at": now.isoformat(timespec="seconds")},
                              durable=True)
    except StorageError:
        run_journal.close()
        console.info("nothing was sent")
        raise
    console.info(f"run {run_id}: journal {path}")
    return run_journal


def _discard(console: Any, *paths: Path | None) -> None:
    for path in paths:
        if path is None:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            console.info(f"warning: cannot remove the previous {path} ({exc.strerror or exc}); "
                         "until this run's report replaces it, it is not this run's")


def _write_reports(result: RunResult, reports: _Reports, run_dir: Path, plan: app.Plan,
                   console: Any) -> list[Any]:
    """The run folder's results.json first (it must not depend on the user's path), then the
    reports asked for; what could not be written where asked goes to a fallback folder."""
    from runner.report import write_all

    spare = Path(tempfile.gettempdir()) / f"mktows-run-{result.run_id}"
    unwritten = write_all(result, results_path=run_dir / "results.json", redact=plan.redactor,
                          env={}, out=console.stream, fallbacks=[spare])
    unwritten += write_all(result, results_path=reports.results, junit_path=reports.junit,
                           markdown_path=reports.markdown, redact=plan.redactor,
                           env=os.environ, out=console.stream, fallbacks=[run_dir, spare])
    for miss in unwritten:
        where = f"written to {miss.instead} instead" if miss.instead else "not written anywhere"
        console.error(f"cannot write {miss.path}: {miss.reason}; {where}")
    return unwritten


def _explain(result: RunResult, stop: Stop, console: Any, run_id: str) -> None:
    """Why the run stopped early, how far each step got, and how to go on."""
    if stop.error is not None:
        console.error(f"{stop.error}: the journal ends at its last whole record and nothing "
                      "more was sent")
    for step in result.steps:
        if step.note:
            console.info(f"step {step.id}: {step.note}")
    if not result.ok:
        console.info(f"to continue this run: mktows-run resume {run_id}")


def exit_code(result: RunResult, reason: str | None = None, *,
              failed_storage: bool = False) -> int:
    """130 for Ctrl-C (or SIGTERM); 1 for a failed step, a deadline, or a journal or report
    that could not be written; 0 when everything was done and recorded."""
    if result.interrupted and reason in (None, "interrupt", "abort"):
        return ExitCode.INTERRUPTED
    if failed_storage or result.interrupted or not result.ok:
        return ExitCode.STEP_FAILED
    return ExitCode.OK


def resume(ref: str, accept_ambiguous: bool, console: Any,
           continue_on_ambiguous: bool | None = None, *, report: Path | None = None,
           junit: Path | None = None, markdown: Path | None = None) -> int:
    """`report`, `junit`, `markdown` replace the paths stored with the run."""
    run_dir = journal.find(ref)
    lock = RunLock(run_dir)
    lock.acquire(run_dir.name)  # before reading: nobody may append meanwhile
    try:
        past = journal.read(run_dir)
        req = RunRequest.from_json(past.header["request"])
        go_on = req.execution.continue_on_ambiguous if continue_on_ambiguous is None else (
            continue_on_ambiguous)
        req = replace(req, execution=replace(req.execution, accept_ambiguous=accept_ambiguous,
                                             continue_on_ambiguous=go_on),
                      report=report or req.report, junit=junit or req.junit,
                      markdown=markdown or req.markdown)
        plan = app.prepare(options_for(req), selection=req.execution.selection)
        console.redact = plan.redactor  # the run's secrets are known only now
        changed = app.changed_inputs(past.header.get("hashes") or {}, app.input_hashes(plan))
        if changed:
            raise UsageError(f"run {past.run_id} cannot be resumed: {', '.join(changed)} "
                             "changed since it ran; start a new run instead")
        done, unknown = len(past.done), len(past.ambiguous)
        console.info(f"resuming run {past.run_id}: {done} call(s) already done, {unknown} with "
                     f"an unknown outcome ({'resent' if accept_ambiguous else 'not resent'})")
        return execute(req, plan, console, past=past, run_dir=run_dir, lock=lock)
    finally:
        lock.release()


def options_for(req: RunRequest) -> app.RunOptions:
    from runner.cli_inputs import read_mapping

    env = dict(os.environ)
    secrets = dict(env)
    if req.secrets_file is not None:
        secrets.update({k: str(v) for k, v in read_mapping(req.secrets_file, "secrets").items()})
    return app.RunOptions(playbook=req.playbook, wsdl=req.wsdl, env=env, secrets=secrets,
                          cli_vars=req.cli_vars,
                          file_vars=tuple(read_mapping(f, "vars") for f in req.vars_files),
                          need_target=not req.sandbox)
