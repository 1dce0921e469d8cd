"""Sending a prepared plan safely: paced to Marketo's limits, retried by fault code, every
attempt signed afresh, nothing non-idempotent resent blindly, every outcome journaled the
moment its call settles (by the thread that sent it, whatever the concurrency), so a kill
leaves at most the calls truly in flight without a recorded outcome.

Calls of one step (loop items, batches) may run concurrently; a step ends (StepEnd) before
the next step's values are resolved from its outputs.

A run stops early for one reason (`Stop.reason`): `interrupt` (Ctrl-C, SIGTERM: the calls in
flight finish, nothing new starts), `deadline` (--deadline passed: no new call or retry
starts), `storage` (the journal could not be written: nothing more may be sent), or `abort`
(a second Ctrl-C: calls in flight are not waited for, and are reported with an unknown
outcome). The step it stopped in is reported `interrupted`, with how far it got.

A failed call stops the run too, unless its loop tolerates it (`max_failures:` on the step or
its looped group, else `--max-failures` for any loop; `_Limits`): the run then goes on, the
step is still `failed`, and a failed group item's remaining calls are not sent. A call that
reads the outputs of a step that has none (it failed, or was skipped) is never sent with
made-up values: it is reported skipped. An ambiguous call is never tolerated this way.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner import retry
from runner.calls import Call, CallGenerator, Skip, StepEnd, raise_problem
from runner.errors import (
    CallValueError,
    ResponseError,
    RestError,
    RunnerError,
    SoapFaultError,
    StorageError,
    TransportError,
)
from runner.journal import Journal, PastRun
from runner.model import CallResult, Retry, RunResult, StepResult, Tolerance
from runner.options import MaxFailures, Sending
from runner.ratelimit import RateLimiter
from runner.secrets import Redactor
from runner.senders import Sender, sender_for
from runner.target import AnyTarget, endpoints

if TYPE_CHECKING:
    from runner.playbook import Step
    from runner.prepare import Plan

MAX_CONCURRENCY = 10
MAX_AHEAD = 100


Observer = Callable[[StepResult, CallResult], None]


class Stop(threading.Event):
    """Set when the run must stop early; `reason` says why (the first reason wins, except
    that `abort` overrides: a second Ctrl-C changes how the run ends) and `error` holds a
    storage failure, whenever it came."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None
        self.error: StorageError | None = None
        self._why = threading.Lock()

    def halt(self, reason: str, error: StorageError | None = None) -> None:
        with self._why:
            self.reason = reason if reason == "abort" else self.reason or reason
            self.error = self.error or error
        self.set()


class Executor:
    def __init__(self, plan: Plan, target: AnyTarget, transport: Any, options: Sending, *,
                 redactor: Redactor, journal: Journal | None = None,
                 past: PastRun | None = None,
                 clock: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 observe: Observer | None = None,
                 stop: threading.Event | None = None,
                 limiter: RateLimiter | None = None, sender: Sender | None = None) -> None:
        self.plan = plan
        self.target = target
        self.redactor = redactor
        self.transport = transport
        self.options = options
        self.journal = journal
        self.past = past
        self.clock = clock or (lambda: datetime.now().astimezone())
        self.sleep = sleep
        self.observe = observe
        self.stop = stop if stop is not None else Stop()
        # (preflight's reads share the run's pacing and its REST session: token, Describe)
        self.limiter = limiter or RateLimiter(options.rate, sleep=sleep)
        self.sender = sender or sender_for(target, plan.schema, transport, self.limiter,
                                           redactor, self.clock)
        self.rng = random.Random(options.seed)
        self._rng_lock = threading.Lock()
        self._deadline = (time.monotonic() + options.deadline_s) if options.deadline_s else None
        self._lock = threading.Lock()
        self._in_flight: dict[str, Call] = {}  # sent (or between retries), not yet settled
        self.limits = _Limits(plan, options.max_failures)

    @property
    def reason(self) -> str | None:
        """Why the run stopped early (None: it did not); a plain Event set from outside is
        an interruption."""
        if not self.stop.is_set():
            return None
        return getattr(self.stop, "reason", None) or "interrupt"

    def _halt(self, reason: str, error: StorageError | None = None) -> None:
        if isinstance(self.stop, Stop):
            self.stop.halt(reason, error)
        else:
            self.stop.set()

    def _past_deadline(self) -> bool:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self._halt("deadline")
            return True
        return False

    # -- the run -------------------------------------------------------------------------
    def run(self, result: RunResult) -> RunResult:
        plan = self.plan
        steps: dict[str, StepResult] = {
            s.id: StepResult(s.id, s.operation, "skipped", s.line, s.name)
            for s in plan.playbook.all_steps() if s.operation is not None}
        walker = CallGenerator(plan.playbook, plan.schema, raise_problem, plan.selection,
                               soap_bodies=self.sender.sends_soap_bodies,
                               totals=plan.counts)
        scope = plan.fresh_scope()
        workers = max(1, min(self.options.concurrency, MAX_CONCURRENCY))
        # Calls built ahead of their send: while the rate limiter holds the workers, the
        # walker prepares the next window's calls, so a window opens on ready envelopes.
        ahead = max(workers, min(self.options.rate.calls, MAX_AHEAD)) if workers > 1 else 1
        events = walker.calls(scope)
        # One thread needs no hand-off per call: the calls run on this one.
        pool = _Workers(workers, self._call) if workers > 1 else None
        run = _Progress(steps)
        aborted = False
        try:
            self._walk(events, walker, run, pool, ahead)
        except KeyboardInterrupt:  # a second Ctrl-C: stop now
            aborted = True
        finally:
            if pool is not None:
                pool.cancel_queued()  # queued behind a failure or a stop: never sent
                if not aborted:
                    aborted = self._finish(pool, run)
                pool.close()
        if aborted:
            self._halt("abort")
            if pool is not None:
                with suppress(KeyboardInterrupt):
                    self._collect(pool, run, block=False)  # what settled meanwhile
            self._report_in_flight(run)
        run.tidy()
        if self.reason is not None and run.open is not None:
            self._mark_interrupted(run, events)
        result.steps = list(steps.values())
        result.interrupted = self.stop.is_set()
        result.max_failures = [t for t in self.limits.units.values() if t.failed]
        return result

    def _walk(self, events: Any, walker: CallGenerator, run: _Progress, pool: _Workers | None,
              ahead: int) -> None:
        while not (run.stopped or self.stop.is_set()):
            if pool is not None and self._collect(pool, run, block=False):
                return  # (calls are reported as they settle) one failed: stop
            try:
                event = next(events)
            except StopIteration:
                return
            except CallValueError as exc:  # a run-time value broke a call valid in the plan
                if walker.current is not None and walker.current.id in run.steps:
                    broken = CallResult(walker.current.id, "", "failed",
                                        fault_message=self.redactor(str(exc)),
                                        error_kind="response")
                    run.steps[walker.current.id].add(broken)
                    if self.observe is not None:  # the console says why, not only the report
                        self.observe(run.steps[walker.current.id], broken)
                run.stopped = True
                return
            if isinstance(event, Skip):
                continue
            if isinstance(event, StepEnd):
                while pool is not None and pool.pending and not run.stopped:
                    self._collect(pool, run, block=True)
                if run.stopped or run.incomplete:
                    return  # a call failed, or some were never sent: the step did not end
                run.end(event.step.id)
                _merge_outputs(event, run.batches.pop(event.step.id, {}))
                continue
            run.begin(event)
            settled = self._from_journal(event) or self._held_back(event)
            if settled is not None:
                self._settle(run, event, settled)
                continue
            if self._past_deadline():
                run.incomplete = True
                return
            if pool is None:
                res = self._call(event)
                if res is None:
                    run.incomplete = True
                else:
                    self._settle(run, event, res)
                continue
            while pool.pending >= ahead and not run.stopped:
                self._collect(pool, run, block=True)
            if run.stopped or self.stop.is_set():
                run.incomplete = True
            else:
                pool.submit(event)

    def _collect(self, pool: _Workers, run: _Progress, block: bool) -> bool:
        """Settle what the workers finished (waiting for one when `block`); True when a
        call's outcome stops the run."""
        while (item := pool.next(block)) is not None:
            call, res = item
            if res is None:
                run.incomplete = True  # taken off the queue as the run stopped: not sent
            else:
                self._settle(run, call, res)
            block = False  # then whatever else has already settled
        return run.stopped

    def _finish(self, pool: _Workers, run: _Progress) -> bool:
        """Wait for the calls in flight (first Ctrl-C, a failure, the deadline); True when a
        second Ctrl-C cut the wait short."""
        try:
            while pool.pending:
                self._collect(pool, run, block=True)
        except KeyboardInterrupt:
            return True
        return False

    def _report_in_flight(self, run: _Progress) -> None:
        """After a second Ctrl-C: the calls nobody waited for, with an unknown outcome (a
        campaign call's journal intent makes a resume hold it back too)."""
        with self._lock:
            left = list(self._in_flight.values())
            self._in_flight.clear()
        for call in left:
            run.steps[call.step.id].add(CallResult(
                str(call.key), self.limits.label(call), "ambiguous", 1, 0.0, {}, None,
                "in flight when the run was stopped at once (second Ctrl-C): Marketo may "
                "have acted; not known", "ambiguous"))

    def _mark_interrupted(self, run: _Progress, events: Any) -> None:
        """The step the run stopped in: `interrupted` unless it failed or is ambiguous (that
        says more), with how far it got. A step whose last call had settled is complete."""
        step = run.open
        assert step is not None
        if self.reason != "abort" and not run.incomplete and _ends_next(events):
            return
        planned = _planned(self.plan, step.id)
        made = len(step.calls)
        counts = (f"{made} of {planned} calls made, {planned - made} not sent"
                  if planned is not None and planned >= made else
                  f"{made} call(s) made, the rest not sent")
        step.note = f"{self._why()}: {counts}"
        if step.status in ("ok", "skipped"):
            step.status = "interrupted"

    def _why(self) -> str:
        reason = self.reason
        if reason == "deadline":
            return f"stopped at the run deadline ({_seconds(self.options.deadline_s or 0)})"
        if reason == "storage":
            error = getattr(self.stop, "error", None)
            return f"stopped: {error}" if error else "stopped: the journal could not be written"
        if reason == "abort":
            return "stopped at once (second Ctrl-C)"
        return "interrupted"

    def _settle(self, run: _Progress, call: Call, res: CallResult) -> None:
        step = run.steps[call.step.id]
        with self._lock:
            self._in_flight.pop(str(call.key), None)  # here, so an abort never loses a call
            step.add(res)
            if res.status == "ok":
                if call.key.batch is None:
                    call.scope.outputs[call.step.id] = res.outputs
                else:  # joined at the step's end, in batch order
                    run.batches.setdefault(call.step.id, {})[call.key.batch] = res.outputs
        if self._stops(call, res):
            run.stopped = True
        if self.observe is not None:
            self.observe(step, res)

    def _from_journal(self, call: Call) -> CallResult | None:
        """An earlier run settled this call: don't send it again (unless told to)."""
        if self.past is None:
            return None
        key = str(call.key)
        done = self.past.done.get(key)
        if done is not None:
            return CallResult(key, self.limits.label(call), "ok", 0, 0.0,
                              done.get("outputs") or {},
                              resumed=True)
        unknown = self.past.ambiguous.get(key)
        if unknown is not None and not self.options.accept_ambiguous:
            fault = unknown.get("fault") or {}
            return CallResult(key, self.limits.label(call), "ambiguous", 0, 0.0, {}, None,
                              "not resent: " + str(fault.get("message") or "outcome unknown")
                              + " (use --accept-ambiguous after checking Marketo)",
                              "ambiguous", resumed=True)
        return None

    # -- one call, all its attempts --------------------------------------------------------
    def _call(self, call: Call) -> CallResult | None:
        """Send a call (with its retries) and journal its outcome at once, on whatever thread
        sent it. None when it was not sent: the run was stopping."""
        res = self._attempts(call)
        if res is not None and self.journal is not None:
            try:
                self.journal.write(_record(call, res))
            except StorageError as exc:  # sent and settled, but the record is lost: stop
                self._halt("storage", exc)
        return res

    def _attempts(self, call: Call) -> CallResult | None:
        if self.stop.is_set():  # queued when the run began to stop: never sent
            return None
        op = call.step.op
        res = CallResult(str(call.key), self.limits.label(call), "failed")
        started = time.perf_counter()
        paced = self.sender.paced_per_attempt
        while True:
            slot = self.limiter.acquire() if paced else None
            if res.attempts == 0 and not self._may_send(call):
                if slot is not None:
                    self.limiter.release(slot)
                return None
            res.attempts += 1
            try:
                res.outputs = self.sender.send(call)
                res.status = "ok"
                # The retries list keeps what went wrong before; the call itself succeeded.
                res.fault_code = res.fault_message = res.error_kind = None
                break
            except (SoapFaultError, RestError, TransportError, ResponseError) as exc:
                if slot is not None:
                    self.limiter.release(slot)  # before any backoff sleep: the call is over
                action = retry.decide(exc, op.idempotent)
                if not self._retry(res, exc, action):
                    break
            finally:
                if slot is not None and slot.done is None:
                    self.limiter.release(slot)
        failed = op.failed_records(res.outputs) if res.status == "ok" else None
        if failed is not None:  # answered, but not every record made it: not a success
            res.status, res.error_kind = "failed", "records"
            res.fault_code, res.fault_message = None, self.redactor(failed)
        res.duration_s = round(time.perf_counter() - started, 6)
        return res

    def _may_send(self, call: Call) -> bool:
        """Just before a call's first request leaves: not when the run is stopping; and for a
        call that must not run twice, only once its intent is on disk."""
        if self.stop.is_set() or self._past_deadline():
            return False
        # In flight from before its intent can reach the disk: a second Ctrl-C during the
        # intent's fsync must report it unknown (a resume will), not leave it out.
        with self._lock:
            self._in_flight[str(call.key)] = call
        if self.journal is not None and not call.step.op.idempotent:
            try:
                self.journal.write({"type": "send", "key": str(call.key)}, durable=True)
            except StorageError as exc:
                with self._lock:
                    self._in_flight.pop(str(call.key), None)  # not sent, and never will be
                self._halt("storage", exc)
                return False
        return True

    def _retry(self, res: CallResult, exc: RunnerError, action: str) -> bool:
        """Record the failure; sleep and return True when another attempt should follow."""
        coded = isinstance(exc, SoapFaultError | RestError)
        res.fault_code = exc.code if isinstance(exc, SoapFaultError | RestError) else None
        res.fault_message = self.redactor(exc.message if isinstance(exc, SoapFaultError | RestError)
                                          else str(exc))
        res.error_kind = ("fault" if coded else
                          "response" if isinstance(exc, ResponseError) else "transport")
        if action == retry.AMBIGUOUS:
            res.status, res.error_kind = "ambiguous", "ambiguous"
            res.fault_message = retry.why_ambiguous(exc, res.fault_message)
            return False
        if action == retry.FAIL or res.attempts >= self.options.policy.max_attempts:
            return False
        wait_s = 0.0
        if action == retry.BACKOFF:
            with self._rng_lock:
                wait_s = self.options.policy.delay(res.attempts, self.rng)
        if self._deadline is not None and time.monotonic() + wait_s >= self._deadline:
            self._halt("deadline")
            res.fault_message += " (not retried: the run deadline was reached)"
            return False
        if self.stop.is_set():
            res.fault_message += " (not retried: the run was stopping)"
            return False
        res.retries.append(Retry(res.attempts, retry.reason(exc), round(wait_s, 3)))
        if wait_s:
            if self.sleep is time.sleep:
                self.stop.wait(wait_s)  # Ctrl-C cuts a backoff short
            else:  # a test's fake clock
                self.sleep(wait_s)
        if self.stop.is_set():
            res.retries.pop()
            res.fault_message += " (not retried: the run was stopping)"
            return False
        return True



    def _stops(self, call: Call, res: CallResult) -> bool:
        """Whether this outcome stops the run: an ambiguous call unless --on-ambiguous
        continue; a failed one unless its loop still tolerates it (max_failures)."""
        if res.status == "ambiguous":
            return not self.options.continue_on_ambiguous
        return res.status == "failed" and not self.limits.tolerates(call)

    def _held_back(self, call: Call) -> CallResult | None:
        """A call not to send: its group item already failed, or it reads the outputs of a
        step that has none (failed, tolerated, or skipped). Sending it would send made-up
        values (the check's samples), so it is reported skipped, with why."""
        why = self.limits.failed_item(call)
        if why is None and (call.pending or call.condition):
            missing = ", ".join(call.pending) or (call.condition or "").removeprefix(
                "known after step ")
            why = (f"not sent: it reads the outputs of step {missing}, which has none (it "
                   "failed or was skipped)")
        if why is None:
            return None
        return CallResult(str(call.key), self.limits.label(call), "skipped", fault_message=why)


def _ends_next(events: Any) -> bool:
    """Whether the step being walked has no call left: the walker's next event (past any
    skipped items) is its StepEnd or the end. Only building, nothing is sent."""
    try:
        for event in events:
            if not isinstance(event, Skip):
                return isinstance(event, StepEnd)
    except CallValueError:
        return False
    return True


def _planned(plan: Any, step_id: str) -> int | None:
    """How many calls the plan counted for a step (None when the plan does not say)."""
    planned = getattr(plan, "steps", None)
    if isinstance(planned, dict) and step_id in planned:
        calls = getattr(planned[step_id], "calls", None)
        return calls if isinstance(calls, int) else None
    return None


def _seconds(value: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{value / size:g}{unit}"
    return f"{value:g}s"


class _Limits:
    """max_failures: which loop a failed call is charged to, and whether the run goes on.

    A failed call is charged to the first of its step and the step's enclosing groups
    (innermost first) that sets `max_failures:`, or, with --max-failures, that has a loop. A
    step counts its failed calls out of its planned calls; a group its failed items out of
    its planned items, and a failed item's remaining calls are not sent. No such loop: the
    first failure stops the run, as it always has."""

    def __init__(self, plan: Plan, default: MaxFailures | None) -> None:
        self.plan = plan
        self.default = default
        self.units: dict[str, Tolerance] = {}  # by step or group id, once charged
        self._groups: dict[str, tuple[Step, ...]] = {}  # step id -> its groups, innermost first
        self._failed: set[tuple[str, ...]] = set()  # key paths of failed group items

        def walk(steps: tuple[Step, ...], groups: tuple[Step, ...]) -> None:
            for step in steps:
                self._groups[step.id] = groups
                walk(step.children, (step, *groups))

        walk(plan.playbook.steps, ())

    def label(self, call: Call) -> str:
        """The call's label, with the items of its looped groups in front (a group's inner
        step makes one call per item: `onboard item 17 (leads.csv:18)`)."""
        path = call.key.path
        items = []
        for group in reversed(self._groups.get(call.step.id, ())):
            at = _item_of(path, group)
            if at is not None:
                items.append(f"{group.id} {at.replace('-', ' ')}")
        if not items:
            return call.label
        where = call.scope.item_where
        text = ", ".join(items) + (f" ({where})" if where is not None and call.step.loop is None
                                   else "")
        return f"{text}, {call.label}" if call.label else text

    def _unit(self, step: Step) -> Step | None:
        for candidate in (step, *self._groups.get(step.id, ())):
            if candidate.max_failures is not None or (
                    self.default is not None and candidate.loop is not None):
                return candidate
        return None

    def tolerates(self, call: Call) -> bool:
        """Charge a failed call to its loop; True while the loop is within its limit."""
        unit = self._unit(call.step)
        if unit is None:
            return False
        tolerance = self.units.get(unit.id) or self._start(unit)
        if unit.children:
            item = _item_path(call.key.path, unit)
            if item in self._failed:
                return True  # the item has failed already: counted once
            self._failed.add(item)
        tolerance.failed += 1
        if tolerance.failed > tolerance.allowed:
            tolerance.exceeded = True
            return False
        return True

    def _start(self, unit: Step) -> Tolerance:
        limit = (MaxFailures.parse(unit.max_failures) if unit.max_failures is not None
                 else self.default or MaxFailures())
        if unit.children:
            total = len({_item_path(tuple(key.split("/")), unit) for key in self.plan.counts
                         if unit.id in key.split("/")})
            kind = "group"
        else:
            planned = self.plan.steps.get(unit.id)
            total, kind = (planned.calls if planned is not None else 0), "step"
        tolerance = Tolerance(unit.id, kind, str(limit), total, limit.allowed(total))
        self.units[unit.id] = tolerance
        return tolerance

    def failed_item(self, call: Call) -> str | None:
        """Why the call is not sent, when a group item it belongs to has failed."""
        if not self._failed:
            return None
        path = call.key.path
        for end in range(1, len(path)):
            if path[:end] in self._failed:
                item = path[:end]
                what = (f"{item[-2]} {item[-1].replace('item-', 'item ', 1)}"
                        if len(item) > 1 and item[-1].startswith("item-") else f"group {item[-1]}")
                return f"not sent: {what} failed at an earlier step"
        return None


def _item_of(path: tuple[str, ...], group: Step) -> str | None:
    """The `item-N` of a looped group in a call's key path (None: not looped)."""
    if group.loop is None or group.id not in path:
        return None
    at = path.index(group.id) + 1
    return path[at] if at < len(path) - 1 else None


def _item_path(path: tuple[str, ...], group: Step) -> tuple[str, ...]:
    """The key path of the group item a call belongs to: up to the group's `item-N` (the
    group itself when it has no loop)."""
    at = path.index(group.id) + 1
    return path[:at + 1] if _item_of(path, group) is not None else path[:at]


class _Progress:
    """The steps' results as calls settle, the step being walked, and whether a call's
    outcome stopped the run. Calls are kept in the order they were made, whatever order
    concurrent ones settle in."""

    def __init__(self, steps: dict[str, StepResult]) -> None:
        self.steps = steps
        self.open: StepResult | None = None  # the step whose calls are being made
        self.stopped = False  # a failed (or ambiguous) call stops the run
        self.incomplete = False  # a call of the open step was built but never sent
        self.batches: dict[str, dict[int, dict[str, Any]]] = {}  # step -> batch -> outputs
        self._order: dict[str, int] = {}
        self._mark = 0  # where the open step's calls of this pass begin

    def begin(self, call: Call) -> None:
        step = self.steps[call.step.id]
        if self.open is not step:
            self.open, self._mark = step, len(step.calls)
            self._order.clear()
        self._order[str(call.key)] = len(self._order)

    def tidy(self) -> None:
        """The open step's calls of this pass back in the order they were made."""
        if self.open is not None:
            calls = self.open.calls
            calls[self._mark:] = sorted(calls[self._mark:],
                                        key=lambda c: self._order.get(c.key, -1))

    def end(self, step_id: str) -> None:
        if self.open is self.steps[step_id]:
            self.tidy()
        self.open = None


class _Workers:
    """Daemon threads that send calls and journal each outcome as it settles. Daemons, so a
    second Ctrl-C does not wait for a call in flight (its journal intent already marks it)."""

    def __init__(self, count: int, work: Callable[[Call], CallResult | None]) -> None:
        self._todo: queue.SimpleQueue[Call | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[Call, CallResult | None, Exception | None]] = (
            queue.SimpleQueue())
        self.pending = 0  # submitted and not yet collected (main thread only)
        self._threads = [threading.Thread(target=self._loop, args=(work,), daemon=True,
                                          name=f"mktows-{i}") for i in range(count)]
        for thread in self._threads:
            thread.start()

    def _loop(self, work: Callable[[Call], CallResult | None]) -> None:
        while (call := self._todo.get()) is not None:
            try:
                self._done.put((call, work(call), None))
            except Exception as exc:  # a bug: re-raised on the main thread
                self._done.put((call, None, exc))

    def submit(self, call: Call) -> None:
        self.pending += 1
        self._todo.put(call)
        # Let the worker that wakes for it take the GIL now: otherwise this thread, building
        # the calls ahead (pure Python), kept it for up to ~50 builds (~130 ms) before the
        # run's first request left (bench/bulk.py's first window).
        time.sleep(0)

    def next(self, block: bool) -> tuple[Call, CallResult | None] | None:
        try:
            call, res, exc = self._done.get(block=block)
        except queue.Empty:
            return None
        self.pending -= 1
        if exc is not None:
            raise exc
        return call, res

    def cancel_queued(self) -> None:
        while True:
            try:
                call = self._todo.get_nowait()
            except queue.Empty:
                return
            if call is not None:
                self.pending -= 1

    def close(self) -> None:
        for _ in self._threads:
            self._todo.put(None)


def _merge_outputs(end: StepEnd, batches: dict[int, dict[str, Any]]) -> None:
    """A batched step's outputs: its batches' lists joined in batch order."""
    if not batches:
        return
    merged: dict[str, Any] = {}
    for number in sorted(batches):
        for name, value in batches[number].items():
            if isinstance(value, list):
                merged[name] = list(merged.get(name) or []) + value
            elif isinstance(value, bool):
                merged[name] = bool(merged.get(name, True)) and value
            else:
                merged[name] = value
    end.scope.outputs[end.step.id] = merged


def _record(call: Call, res: CallResult) -> dict[str, Any]:
    return {
        "type": "call", "key": str(call.key), "step": call.step.id, "status": res.status,
        "attempts": res.attempts, "outputs": res.outputs,
        "fault": None if res.status == "ok" else {
            "code": res.fault_code, "message": res.fault_message, "kind": res.error_kind},
        "retries": [vars(r) for r in res.retries],
    }


def execute(plan: Plan, target: AnyTarget, transport: Any, options: Sending, *,
            redactor: Redactor, run_journal: Journal | None = None,
            past: PastRun | None = None, run_id: str = "", observe: Observer | None = None,
            stop: threading.Event | None = None,
            clock: Callable[[], datetime] | None = None, limiter: RateLimiter | None = None,
            sender: Sender | None = None) -> RunResult:
    """Send the plan's calls to `target` and return what happened."""
    now = datetime.now().astimezone()
    result = RunResult(plan.playbook.file, now.isoformat(timespec="seconds"),
                       endpoint=endpoints(target)[0], name=plan.playbook.name, run_id=run_id,
                       data_files=list(plan.data_files))
    Executor(plan, target, transport, options, redactor=redactor, journal=run_journal, past=past,
             observe=observe, stop=stop, clock=clock, limiter=limiter,
             sender=sender).run(result)
    result.finished_at = datetime.now().astimezone().isoformat(timespec="seconds")
    return result
