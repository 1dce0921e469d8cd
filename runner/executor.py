"""Sending a prepared plan safely: paced to Marketo's limits, retried by fault code, every
attempt signed afresh, nothing non-idempotent resent blindly, every outcome journaled.

Calls of one step (loop items, batches) may run concurrently; a step ends (StepEnd) before
the next step's values are resolved from its outputs.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner import retry
from runner.errors import ResponseError, RunnerError, SoapFaultError, TransportError
from runner.journal import Journal, PastRun
from runner.model import CallResult, Retry, RunResult, StepResult
from runner.operations import NON_IDEMPOTENT
from runner.ratelimit import Rate, RateLimiter
from runner.soap import auth, envelope, response
from runner.walk import Call, Selection, Skip, StepEnd, Walker

MAX_CONCURRENCY = 10
MAX_AHEAD = 100


@dataclass(frozen=True)
class ExecOptions:
    concurrency: int = 1
    rate: Rate = field(default_factory=Rate)
    policy: retry.RetryPolicy = field(default_factory=retry.RetryPolicy)
    deadline_s: float | None = None  # no new attempt starts after this many seconds
    continue_on_ambiguous: bool = False
    accept_ambiguous: bool = False  # resume: resend calls whose outcome is unknown
    selection: Selection = field(default_factory=Selection)
    seed: int | None = None  # jitter; fixed in tests


Observer = Callable[[StepResult, CallResult], None]


class Executor:
    def __init__(self, plan: Any, transport: Any, options: ExecOptions, *,
                 journal: Journal | None = None, past: PastRun | None = None,
                 clock: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 observe: Observer | None = None,
                 stop: threading.Event | None = None) -> None:
        self.plan = plan
        self.transport = transport
        self.options = options
        self.journal = journal
        self.past = past
        self.clock = clock or (lambda: datetime.now().astimezone())
        self.sleep = sleep
        self.observe = observe
        self.stop = stop or threading.Event()
        self.limiter = RateLimiter(options.rate, sleep=sleep)
        self.rng = random.Random(options.seed)
        self._rng_lock = threading.Lock()
        self._deadline = (time.monotonic() + options.deadline_s) if options.deadline_s else None
        self._lock = threading.Lock()

    # -- the run -------------------------------------------------------------------------
    def run(self, result: RunResult) -> RunResult:
        plan = self.plan
        steps: dict[str, StepResult] = {
            s.id: StepResult(s.id, s.operation, "skipped", s.line, s.name)
            for s in plan.playbook.all_steps() if s.operation is not None}
        walker = Walker(plan.playbook, plan.schema, _raise, live=True, counts=dict(plan.counts),
                        selection=self.options.selection)
        scope = plan.fresh_scope()
        workers = max(1, min(self.options.concurrency, MAX_CONCURRENCY))
        # Calls built ahead of their send: while the rate limiter holds the workers, the
        # walker prepares the next window's calls, so a window opens on ready envelopes.
        ahead = max(workers, min(self.options.rate.calls, MAX_AHEAD)) if workers > 1 else 1
        events = walker.walk(plan.playbook.steps, scope)
        pending: dict[Future[CallResult], Call] = {}
        stopped = False
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mktows") as pool:
            while not stopped:
                try:
                    event = next(events)
                except StopIteration:
                    break
                except ValueError as exc:  # a run-time value broke a call valid in the plan
                    if walker.current is not None and walker.current.id in steps:
                        broken = CallResult(walker.current.id, "", "failed",
                                            fault_message=plan.redactor(str(exc)),
                                            error_kind="response")
                        steps[walker.current.id].add(broken)
                        if self.observe is not None:  # the console says why, not only the report
                            self.observe(steps[walker.current.id], broken)
                    break
                if isinstance(event, Skip):
                    continue
                if isinstance(event, StepEnd):
                    stopped = self._drain(pending, steps, wait_all=True)
                    if not stopped:
                        _merge_outputs(event, steps[event.step.id])
                    continue
                if self.stop.is_set():
                    stopped = True
                    break
                settled = self._from_journal(event)
                if settled is not None:
                    self._settle(steps, event, settled)
                    stopped = settled.status == "ambiguous" and not self.options.continue_on_ambiguous
                    continue
                if workers == 1:  # no thread hand-off per call when nothing runs beside it
                    res = self._attempts(event)
                    self._settle(steps, event, res)
                    stopped = _stops(res, self.options)
                    continue
                while len(pending) >= ahead:
                    stopped = self._drain(pending, steps, wait_all=False)
                    if stopped:
                        break
                if not stopped:
                    pending[pool.submit(self._attempts, event)] = event
            if stopped:
                for future in pending:  # queued behind the failure: never sent
                    future.cancel()
                for future in [f for f in pending if f.cancelled()]:
                    del pending[future]
            self._drain(pending, steps, wait_all=True)
        result.steps = list(steps.values())
        result.interrupted = self.stop.is_set()
        return result

    def _drain(self, pending: dict[Future[CallResult], Call], steps: dict[str, StepResult],
               wait_all: bool) -> bool:
        """Collect finished calls; True when the run must stop."""
        if not pending:
            return self.stop.is_set()
        done, _ = wait(list(pending), return_when="ALL_COMPLETED" if wait_all else FIRST_COMPLETED)
        stop = False
        for future in sorted(done, key=lambda f: _order(pending[f])):
            call = pending.pop(future)
            res = future.result()
            self._settle(steps, call, res)
            stop = stop or _stops(res, self.options)
        return stop or self.stop.is_set()

    def _settle(self, steps: dict[str, StepResult], call: Call, res: CallResult) -> None:
        step = steps[call.step.id]
        with self._lock:
            step.add(res)
            res_outputs = res.outputs if res.status == "ok" else None
            if res_outputs is not None and "/batch-" not in call.key:
                call.scope.outputs[call.step.id] = res_outputs
        if self.journal is not None and not res.resumed:
            self.journal.write(_record(call, res))
        if self.observe is not None:
            self.observe(step, res)

    def _from_journal(self, call: Call) -> CallResult | None:
        """An earlier run settled this call: don't send it again (unless told to)."""
        if self.past is None:
            return None
        done = self.past.done.get(call.key)
        if done is not None:
            return CallResult(call.key, call.label, "ok", 0, 0.0, done.get("outputs") or {},
                              resumed=True)
        unknown = self.past.ambiguous.get(call.key)
        if unknown is not None and not self.options.accept_ambiguous:
            fault = unknown.get("fault") or {}
            return CallResult(call.key, call.label, "ambiguous", 0, 0.0, {}, None,
                              "not resent: " + str(fault.get("message") or "outcome unknown")
                              + " (use --accept-ambiguous after checking Marketo)",
                              "ambiguous", resumed=True)
        return None

    # -- one call, all its attempts --------------------------------------------------------
    def _attempts(self, call: Call) -> CallResult:
        operation = call.step.operation or ""
        res = CallResult(call.key, call.label, "failed")
        started = time.perf_counter()
        if self.journal is not None and operation in NON_IDEMPOTENT:
            self.journal.write({"type": "send", "key": call.key}, durable=True)
        while True:
            res.attempts += 1
            slot = self.limiter.acquire()
            try:
                res.outputs = self._attempt(call)
                res.status = "ok"
                break
            except (SoapFaultError, TransportError, ResponseError) as exc:
                self.limiter.release(slot)  # before any backoff sleep: the call is over
                action = retry.decide(exc, operation)
                if not self._retry(res, exc, action):
                    break
            finally:
                if slot.done is None:
                    self.limiter.release(slot)
        failed = response.failed_records(operation, res.outputs) if res.status == "ok" else None
        if failed is not None:  # answered, but not every record made it: not a success
            res.status, res.error_kind = "failed", "records"
            res.fault_code, res.fault_message = None, self.plan.redactor(failed)
        res.duration_s = round(time.perf_counter() - started, 6)
        return res

    def _retry(self, res: CallResult, exc: RunnerError, action: str) -> bool:
        """Record the failure; sleep and return True when another attempt should follow."""
        res.fault_code = exc.code if isinstance(exc, SoapFaultError) else None
        res.fault_message = self.plan.redactor(exc.message if isinstance(exc, SoapFaultError)
                                               else str(exc))
        res.error_kind = ("fault" if isinstance(exc, SoapFaultError) else
                          "response" if isinstance(exc, ResponseError) else "transport")
        if action == retry.AMBIGUOUS:
            res.status, res.error_kind = "ambiguous", "ambiguous"
            res.fault_message = ("sent, but no answer (" + (res.fault_message or "") +
                                 "): Marketo may have acted; not resent")
            return False
        if action == retry.FAIL or res.attempts >= self.options.policy.max_attempts:
            return False
        if self._deadline is not None and time.monotonic() >= self._deadline:
            res.fault_message = (res.fault_message or "") + " (run deadline reached)"
            return False
        if self.stop.is_set():
            return False
        wait_s = 0.0
        if action == retry.BACKOFF:
            with self._rng_lock:
                wait_s = self.options.policy.delay(res.attempts, self.rng)
        res.retries.append(Retry(res.attempts, retry.reason(exc), round(wait_s, 3)))
        if wait_s:
            self.sleep(wait_s)
        return True

    def _attempt(self, call: Call) -> dict[str, Any]:
        plan = self.plan
        operation = call.step.operation or ""
        stamp = auth.w3c_timestamp(self.clock())  # every attempt is signed afresh
        signature = auth.sign(stamp, plan.target.user_id, plan.target.encryption_key)
        headers = envelope.auth_header(plan.target.user_id, signature, stamp,
                                       plan.target.partner_id)
        if call.workspace:
            headers += envelope.context_header(call.workspace)
        reply = self.transport.post(plan.target.endpoint, operation,
                                    envelope.envelope(headers, call.body))
        binding = plan.schema.bindings[operation]
        return response.read(operation, binding.output_element, reply)


def _stops(res: CallResult, options: ExecOptions) -> bool:
    return res.status == "failed" or (res.status == "ambiguous"
                                      and not options.continue_on_ambiguous)


def _raise(where: Any, message: str, hint: str | None) -> None:
    # Everything was checked by prepare(); a problem now comes from a step's output value.
    raise ValueError(message)


def _order(call: Call) -> tuple[int, str]:
    tail = call.key.rsplit("-", 1)[-1]
    return (int(tail) if tail.isdigit() else 0, call.key)


def _merge_outputs(end: StepEnd, step: StepResult) -> None:
    """A batched step's outputs: its batches' lists joined in batch order."""
    batches = [c for c in step.calls if "/batch-" in c.key and c.status == "ok"]
    if not batches:
        return
    batches.sort(key=lambda c: int(c.key.rsplit("-", 1)[-1]))
    merged: dict[str, Any] = {}
    for c in batches:
        for name, value in c.outputs.items():
            if isinstance(value, list):
                merged[name] = list(merged.get(name) or []) + value
            elif isinstance(value, bool):
                merged[name] = bool(merged.get(name, True)) and value
            else:
                merged[name] = value
    end.scope.outputs[end.step.id] = merged


def _record(call: Call, res: CallResult) -> dict[str, Any]:
    return {
        "type": "call", "key": call.key, "step": call.step.id, "status": res.status,
        "attempts": res.attempts, "outputs": res.outputs,
        "fault": None if res.status == "ok" else {
            "code": res.fault_code, "message": res.fault_message, "kind": res.error_kind},
        "retries": [vars(r) for r in res.retries],
    }
