"""One run from the command line's point of view: prepare, start the sandbox if asked, open
the journal, send, write the reports, pick the exit code. `resume` is the same run again,
from its journal. No click here (cli.py turns flags into a RunRequest).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runner import app, journal
from runner.errors import ExitCode, UsageError
from runner.executor import ExecOptions
from runner.model import RunResult
from runner.ratelimit import Rate
from runner.retry import RetryPolicy
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
            execution=execution, allow_insecure_http=bool(data.get("allow_insecure_http")))


def check_endpoint(endpoint: str, allow_insecure_http: bool) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"the endpoint {endpoint!r} is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK and not allow_insecure_http:
        raise UsageError(f"refusing plain http:// to {parts.hostname}: the request signature "
                         "and your leads' data would cross the network unencrypted; use "
                         "https://, or --allow-insecure-http if you really mean it")


@contextmanager
def _interruptible(stop: threading.Event, say: Any) -> Iterator[None]:
    """First Ctrl-C: finish the calls in flight, then stop. Second: stop now."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        say("interrupted: finishing the call in flight, then writing the journal and reports "
            "(Ctrl-C again to stop at once)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def execute(req: RunRequest, plan: app.Plan, console: Any, *,
            past: journal.PastRun | None = None, run_dir: Path | None = None) -> int:
    from runner import sandbox as box
    from runner.report import write_all
    from runner.transport import HttpTransport

    now = datetime.now().astimezone()
    run_id = past.run_id if past else journal.new_run_id(now)
    run_dir = run_dir or (journal.RUNS_DIR / run_id)
    stop = threading.Event()
    transport = HttpTransport()
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
            run_journal = journal.Journal(run_dir / "journal.jsonl", plan.redactor)
            if past is None:
                run_journal.write({"type": "run", "format": journal.FORMAT, "run_id": run_id,
                                   "started_at": now.isoformat(timespec="seconds"),
                                   "request": req.to_json(), "hashes": app.input_hashes(plan)},
                                  durable=True)
            else:
                run_journal.write({"type": "resume", "at": now.isoformat(timespec="seconds")})
            console.info(f"run {run_id}: journal {run_dir / 'journal.jsonl'}")
            with _interruptible(stop, console.info):
                result = app.execute(plan, transport, req.execution, run_journal=run_journal,
                                     past=past, run_id=run_id, observe=console.call, stop=stop)
            run_journal.write({"type": "end", "status": result.status,
                               "finished_at": result.finished_at})
            run_journal.close()
    finally:
        transport.close()
    write_all(result, results_path=req.report, junit_path=req.junit, markdown_path=req.markdown,
              redact=plan.redactor, env=os.environ, out=console.stream)
    write_all(result, results_path=run_dir / "results.json", redact=plan.redactor, env={},
              out=console.stream)
    console.summary(result, str(req.report))
    return exit_code(result)


def exit_code(result: RunResult) -> int:
    if result.interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.OK if result.ok else ExitCode.STEP_FAILED


def resume(ref: str, accept_ambiguous: bool, console: Any,
           continue_on_ambiguous: bool | None = None) -> int:
    run_dir = journal.find(ref)
    past = journal.read(run_dir)
    req = RunRequest.from_json(past.header["request"])
    go_on = req.execution.continue_on_ambiguous if continue_on_ambiguous is None else (
        continue_on_ambiguous)
    req = replace(req, execution=replace(req.execution, accept_ambiguous=accept_ambiguous,
                                         continue_on_ambiguous=go_on))
    plan = app.prepare(options_for(req), selection=req.execution.selection)
    changed = app.changed_inputs(past.header.get("hashes") or {}, app.input_hashes(plan))
    if changed:
        raise UsageError(f"run {past.run_id} cannot be resumed: {', '.join(changed)} changed "
                         "since it ran; start a new run instead")
    done, unknown = len(past.done), len(past.ambiguous)
    console.info(f"resuming run {past.run_id}: {done} call(s) already done, {unknown} with an "
                 f"unknown outcome ({'resent' if accept_ambiguous else 'not resent'})")
    return execute(req, plan, console, past=past, run_dir=run_dir)


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
