"""A run and its state on disk: check the report paths, lock the run's folder, open the
journal, send (runner.executor), write the reports; `resume` is the same run again, from its
journal, refused if its inputs changed. No click here: cli.py turns flags into RunOptions,
starts the sandbox when asked (handing it over as the Target) and maps the Outcome to an exit
code.

Environment failures (disk full, read-only, permission, I/O) on the journal or a report are
StorageErrors: a message naming the file, exit 1, never a traceback. The journal then ends at
its last whole record; each report is written to a fallback folder (the run's folder, then the
system's temporary folder) and the console says where.
"""

from __future__ import annotations

import os
import random
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from runner import journal, preflight, retry
from runner.errors import (
    PlaybookError,
    PreflightError,
    ResponseError,
    RestError,
    SoapFaultError,
    StorageError,
    TransportError,
    UsageError,
)
from runner.executor import Stop, execute
from runner.model import CallResult, RunResult, StepResult
from runner.options import Reports, RunOptions, Sending
from runner.prepare import Plan
from runner.ratelimit import RateLimiter
from runner.report import Prerendered, files
from runner.runlock import RunLock
from runner.secrets import Redactor
from runner.senders import Sender, sender_for
from runner.target import AnyTarget, check_endpoint, endpoints, secret


@dataclass(frozen=True)
class Outcome:
    """How a run ended: its result, why it stopped early (None: it did not), and whether a
    journal record or a report could not be written."""

    result: RunResult
    reason: str | None = None
    storage_failed: bool = False


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


def _check_reports(asked: Reports, resuming: bool, console: Any) -> Reports:
    """Before anything is sent: every report path can be written (exit 2 otherwise). A resume
    is not doomed by a path stored with the run that no longer works: it warns and goes on,
    with results.json in the run's folder."""
    paths: dict[str, Path | None] = {}
    for option, path in (("--report", asked.results), ("--junit", asked.junit),
                         ("--markdown", asked.markdown)):
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
    return Reports(paths["--report"], paths["--junit"], paths["--markdown"])


def start(options: RunOptions, plan: Plan, target: AnyTarget, console: Any) -> Outcome:
    """A new run of `plan` against `target`."""
    return _run(options, plan, target, console, None)


def _run(options: RunOptions, plan: Plan, target: AnyTarget, console: Any,
         resuming: Resumable | None) -> Outcome:
    for url in endpoints(target):
        check_endpoint(url, options.allow_insecure_http)
    reports = _check_reports(options.reports, resuming is not None, console)
    now = datetime.now().astimezone()
    past = resuming.past if resuming else None
    run_id = past.run_id if past else journal.new_run_id(now)
    run_dir = resuming.run_dir if resuming else journal.RUNS_DIR / run_id
    redactor = plan.redactor.with_values(secret(target))
    console.redact = redactor
    where = f"{endpoints(target)[0]} ({plan.api.upper()})"
    console.info(f"sandbox: {where}, db {options.sandbox_db}" if options.sandbox
                 else f"target: {where}")
    lock = None if resuming else RunLock(run_dir)  # a resume holds its lock already
    try:
        if lock is not None:
            lock.acquire(run_id)  # held until the reports are written
        return _send(options, plan, target, redactor, console, past, run_id, run_dir,
                     reports, now)
    finally:
        if lock is not None:
            lock.release()


def _send(options: RunOptions, plan: Plan, target: AnyTarget, redactor: Redactor, console: Any,
          past: journal.PastRun | None, run_id: str, run_dir: Path, reports: Reports,
          now: datetime) -> Outcome:
    from runner.transport import HttpTransport, Timeouts

    stop = Stop()
    sending = options.sending
    transport = HttpTransport(Timeouts(read=sending.read_timeout_s, total=sending.call_timeout_s))
    limiter = RateLimiter(sending.rate)
    # results.json's calls, written as they settle: the end of the run only joins them.
    prerendered = Prerendered(redactor)

    def learn(value: str) -> None:  # a secret met while sending (a REST token)
        redactor.add(value)
        prerendered.forget()  # (what it wrote was masked without this one)

    def observe(step: StepResult, call: CallResult) -> None:
        console.call(step, call)
        prerendered.add(call)

    sender = sender_for(target, plan.schema, transport, limiter, redactor,
                        lambda: datetime.now().astimezone(), stop=stop, say=console.info,
                        on_secret=learn)
    try:
        checked = _preflight(options, plan, sender, console)  # before the journal: a refusal
        # leaves none
        run_journal = _open_journal(options, plan, redactor, console, past, run_id, run_dir, now)
        try:
            # This run's reports are written at its end: until then, the previous run's
            # must not be there to be read as this one's (say after a second Ctrl-C).
            _discard(console, reports.results, reports.junit, reports.markdown,
                     run_dir / "results.json")
            with _interruptible(stop, console.info):
                result = execute(plan, target, transport, sending, redactor=redactor,
                                 run_journal=run_journal, past=past, run_id=run_id,
                                 observe=observe, stop=stop, limiter=limiter,
                                 sender=sender)
            result.preflight = checked
            console.finish()  # a loop's last progress line, before anything else is said
            end = {"type": "end", "status": result.status, "reason": stop.reason,
                   "finished_at": result.finished_at,
                   "interrupted_steps": {s.id: s.note for s in result.steps if s.note}}
            try:
                run_journal.write(end, durable=True)
            except StorageError as exc:
                # A sync that failed after the last call settled (outcomes are synced in the
                # background) reached no sending thread: the run is not a success.
                stop.halt("storage", exc)
        finally:
            run_journal.close()
    finally:
        transport.close()
    unwritten = _write_reports(result, reports, run_dir, redactor, console, prerendered)
    _explain(result, stop, console, run_id)
    console.summary(result, str(reports.results or run_dir / "results.json"))
    return Outcome(result, stop.reason, bool(unwritten) or stop.error is not None)


def _preflight(options: RunOptions, plan: Plan, sender: Sender, console: Any) -> str:
    """Read before writing: every campaign, workspace and (REST) field the writes depend on;
    a problem is exit 2 with nothing written. Returns the line the reports carry."""
    if not options.preflight:
        line = ("preflight skipped (--no-preflight): a missing campaign or field is found only "
                "when its call is sent, after earlier steps have written")
        console.info(f"warning: {line}")
        return line
    findings = read_before_writing(plan, sender, options.sending)
    console.info(findings.line())
    if findings.problems:
        raise PlaybookError(sorted(findings.problems, key=lambda p: p.location))
    return findings.line()


def read_before_writing(plan: Plan, sender: Sender, sending: Sending) -> preflight.Findings:
    """preflight.check, retried as a call's reads are: what a read would retry (5xx, a lost
    connection, 606/615, 601/602, 20016/20023/20024) runs the whole check again, with the
    run's backoff. Credentials, the quota, Marketo saying no: PreflightError (nothing was
    written, and nothing will be)."""
    policy, rng = sending.policy, random.Random(sending.seed)
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return preflight.check(plan, sender)
        except (SoapFaultError, RestError, TransportError, ResponseError) as exc:
            action = retry.decide(exc, True)
            if action == retry.FAIL or attempt == policy.max_attempts:
                raise PreflightError(f"preflight could not read from Marketo ({exc}); "
                                     "nothing was written") from None
            if action == retry.BACKOFF:
                time.sleep(policy.delay(attempt, rng))
    raise AssertionError("unreachable")


def _open_journal(options: RunOptions, plan: Plan, redactor: Redactor, console: Any,
                  past: journal.PastRun | None, run_id: str, run_dir: Path,
                  now: datetime) -> journal.Journal:
    """The journal, its torn tail (if any) cut first, and this run's first record durable
    before anything is sent."""
    path = run_dir / journal.JOURNAL
    repair = past.repair if past else None
    run_journal = journal.Journal(path, redactor, repair=repair)
    if repair is not None and repair.note:
        console.info(f"journal {path}: {repair.note}")
    try:
        if past is None:
            run_journal.write({"type": "run", "format": journal.FORMAT, "run_id": run_id,
                               "started_at": now.isoformat(timespec="seconds"),
                               "request": options.to_json(),
                               "hashes": input_hashes(plan, options)},
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


def _write_reports(result: RunResult, reports: Reports, run_dir: Path, redactor: Redactor,
                   console: Any, prerendered: Prerendered | None = None) -> list[Any]:
    """The run folder's results.json first (it must not depend on the user's path), then the
    reports asked for; what could not be written where asked goes to a fallback folder."""
    from runner.report import write_all

    spare = Path(tempfile.gettempdir()) / f"mktows-run-{result.run_id}"
    rendered: dict[str, str] = {}  # results.json rendered once for both copies
    unwritten = write_all(result, results_path=run_dir / "results.json", redact=redactor,
                          env={}, out=console.stream, fallbacks=[spare], rendered=rendered,
                          prerendered=prerendered)
    unwritten += write_all(result, results_path=reports.results, junit_path=reports.junit,
                           markdown_path=reports.markdown, redact=redactor,
                           env=os.environ, out=console.stream, fallbacks=[run_dir, spare],
                           rendered=rendered, prerendered=prerendered)
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


@dataclass
class Resumable:
    """A run to resume: its folder (locked: nobody may append meanwhile), what its journal
    says, and the options it ran with."""

    run_dir: Path
    lock: RunLock
    past: journal.PastRun
    options: RunOptions


@contextmanager
def open_past(ref: str) -> Iterator[Resumable]:
    """The run `ref` (an id under .mktows/runs/ or a folder), locked for as long as the
    `with` lasts; its journal read after the lock is taken."""
    run_dir = journal.find(ref)
    lock = RunLock(run_dir)
    lock.acquire(run_dir.name)
    try:
        past = journal.read(run_dir)
        yield Resumable(run_dir, lock, past, RunOptions.from_json(past.header["request"]))
    finally:
        lock.release()


def resume(resumable: Resumable, options: RunOptions, plan: Plan, target: AnyTarget,
           console: Any) -> Outcome:
    """The same run again: refused if its inputs changed; what its journal shows as done is
    not sent again (see the README, "Resume")."""
    past = resumable.past
    changed = changed_inputs(past.header.get("hashes") or {}, input_hashes(plan, options))
    if changed:
        raise UsageError(f"run {past.run_id} cannot be resumed: {', '.join(changed)} "
                         "changed since it ran; start a new run instead")
    done, unknown = len(past.done), len(past.ambiguous)
    resent = "resent" if options.sending.accept_ambiguous else "not resent"
    console.info(f"resuming run {past.run_id}: {done} call(s) already done, {unknown} with "
                 f"an unknown outcome ({resent})")
    return _run(options, plan, target, console, resumable)


def resume_options(recorded: RunOptions, *, accept_ambiguous: bool,
                   continue_on_ambiguous: bool | None, reports: Reports) -> RunOptions:
    """The options a run ran with, with what `resume`'s flags change."""
    go_on = (recorded.sending.continue_on_ambiguous if continue_on_ambiguous is None
             else continue_on_ambiguous)
    return replace(recorded, sending=replace(recorded.sending, accept_ambiguous=accept_ambiguous,
                                             continue_on_ambiguous=go_on),
                   reports=Reports(reports.results or recorded.reports.results,
                                   reports.junit or recorded.reports.junit,
                                   reports.markdown or recorded.reports.markdown))


def input_hashes(plan: Plan, options: RunOptions) -> dict[str, Any]:
    """What a resumed run must find unchanged: playbook, variables, data files, WSDL."""
    return {
        "playbook": journal.sha256_file(plan.playbook.path),
        "vars": journal.sha256_json(plan.vars),
        "wsdl": plan.schema.sha256,
        "data": {d.name: journal.sha256_file(Path(d.path)) for d in plan.data_files
                 if Path(d.path).is_file()},
    }


def changed_inputs(recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = [name for name in ("playbook", "vars", "wsdl") if recorded.get(name) != now.get(name)]
    old, new = recorded.get("data") or {}, now.get("data") or {}
    out += [f"data file {f}" for f in sorted(set(old) | set(new)) if old.get(f) != new.get(f)]
    return out
