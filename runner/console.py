"""What a person sees: problems, calls, progress, a summary. Always through the redactor.

A small step prints one line per call. A long loop (a step, or a top-level group, with more
than SHOW_EVERY_CALL calls) shows progress instead: on a terminal a bar redrawn in place
(`\\r`, at most every REDRAW_S), elsewhere (a CI log, a pipe) a line every tenth of the loop
or every LINE_EVERY_S seconds, whichever comes first, and always one at the end. Both say
done / total, the rate, the time left, retries and failures so far, and where the loop is
(a group's item). A call that did not succeed is always printed as a line of its own (the
first MAX_PROBLEM_LINES of a loop; every one is in the reports). NO_COLOR turns colours off.

Hand-written rather than tqdm or rich: the output must go through the redactor, the piped
form is our own cadence of whole lines (a library's bar written to a pipe is a stream of
carriage returns in the log), the frames must be testable with a fake clock, and the CLI's
cold start must not pay for a library import.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

import click

from runner.model import CallResult, Problem, RunResult, StepResult
from runner.secrets import Redactor

if TYPE_CHECKING:
    from runner.prepare import Plan

_MARK = {"ok": ("ok", None), "failed": ("FAILED", "red"), "skipped": ("skipped", "yellow"),
         "ambiguous": ("AMBIGUOUS", "magenta")}
SHOW_EVERY_CALL = 20  # a loop with more calls than this is shown as progress
MAX_PROBLEM_LINES = 20  # per loop: the calls that did not succeed printed one by one
SUMMARY_FAILURES = 10  # per step: failed calls the summary lists
REDRAW_S = 0.1  # a terminal's bar is redrawn at most this often
LINE_EVERY_S = 30.0  # piped: a progress line at least this often
LINES_PER_LOOP = 10  # piped: a progress line every tenth of the loop
BAR_WIDTH = 24


def _show(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Loop:
    """What progress is shown for: a top-level step, or a group with every step inside it."""

    id: str
    calls: int  # planned
    items: int = 0  # a looped group's planned items; 0 otherwise
    noun: str = "calls"  # items (a per-item loop), batches, or calls (a group)


def loops_of(plan: Plan) -> dict[str, Loop]:
    """Each operation step's Loop (its own, or its top-level group's), from the plan's
    counts."""
    out: dict[str, Loop] = {}
    for top in plan.playbook.steps:
        inner = [s for s in top.with_inner() if s.operation is not None]
        calls = sum(plan.steps[s.id].calls for s in inner if s.id in plan.steps)
        if top.children:
            prefix = f"{top.id}/item-"
            items = len({key.split("/")[1] for key in plan.counts if key.startswith(prefix)})
            loop = Loop(top.id, calls, items, "calls")
        else:
            noun = ("batches" if top.op.batching is not None else
                    "items" if top.loop is not None else "calls")
            loop = Loop(top.id, calls, 0, noun)
        out.update({s.id: loop for s in inner})
    return out


@dataclass
class _Bar:
    """One loop's progress so far."""

    loop: Loop
    started: float
    done: int = 0
    sent: int = 0  # done, less the calls an earlier run settled (they take no time)
    failed: int = 0
    retries: int = 0
    problems: int = 0  # lines printed for calls that did not succeed
    item: int = 0  # a group's items begun
    where: str = ""  # the last call: step and label
    last_key: str = ""
    drawn_at: float = -math.inf
    line_at: float = 0.0
    line_done: int = -1  # done when the last piped line was printed
    on_screen: bool = False  # a terminal frame is on the current line
    _items: set[str] = field(default_factory=set)

    def add(self, step: StepResult, res: CallResult) -> None:
        self.done += 1
        self.sent += 0 if res.resumed else 1
        self.failed += res.status in ("failed", "ambiguous")
        self.retries += len(res.retries)
        # a group's inner step: `onboard item 17 (leads.csv:18): sync`
        self.where = (res.label if step.id == self.loop.id else
                      f"{res.label}: {step.id}" if res.label else step.id)
        if self.loop.items:
            parts = res.key.split("/")
            if len(parts) > 1 and parts[1] not in self._items:
                self._items.add(parts[1])
                self.item = len(self._items)

    def rate(self, now: float) -> float:
        elapsed = now - self.started
        return self.sent / elapsed if elapsed > 0 else 0.0

    def facts(self, now: float, final: bool) -> list[str]:
        total = max(self.loop.calls, self.done)
        pct = 100 * self.done // total if total else 100
        parts = [f"{self.done}/{total} {self.loop.noun} ({pct}%)"]
        if self.loop.items:
            parts.insert(0, f"item {self.item}/{self.loop.items}")
        rate = self.rate(now)
        if rate:
            parts.append(f"{rate:.1f}/s" if rate < 100 else f"{rate:.0f}/s")
        if final:
            parts.append(f"in {_duration(now - self.started)}")
        elif rate and total > self.done:
            parts.append(f"ETA {_duration((total - self.done) / rate)}")
        parts.append(f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}")
        parts.append(f"{self.failed} failed")
        return parts


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Console:
    def __init__(self, redact: Callable[[str], str] | None = None, quiet: bool = False,
                 verbose: bool = False, totals: Mapping[str, int] | None = None,
                 stream: TextIO | None = None, *, err: TextIO | None = None,
                 tty: bool | None = None, clock: Callable[[], float] = time.monotonic,
                 width: int | None = None) -> None:
        # Even before a run's secrets are known, a URL's user:password@ and anything shaped
        # like a request signature are masked; a run sets its own redactor (`redact`).
        self.redact: Callable[[str], str] = redact if redact is not None else Redactor()
        self.quiet = quiet
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.err = err  # None: whatever sys.stderr is when written to
        self.color = "NO_COLOR" not in os.environ and self.stream.isatty()
        # tty: a bar redrawn in place (forced in tests); else whole lines.
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.clock = clock
        self.width = width
        # Without a plan (expect()), steps are their own loops, sized by `totals`.
        self.loops: dict[str, Loop] = {k: Loop(k, v) for k, v in (totals or {}).items()}
        self._bar: _Bar | None = None

    def expect(self, plan: Plan) -> None:
        """Size the progress of each loop from the plan about to run."""
        self.loops = loops_of(plan)

    # -- lines -----------------------------------------------------------------------------
    def _echo(self, text: str, fg: str | None = None, err: bool = False, bold: bool = False) -> None:
        click.secho(self.redact(text), fg=fg if self.color else None,
                    bold=True if bold and self.color else None,
                    err=err and self.err is None, file=(self.err if err else self.stream),
                    color=self.color)

    def _raw(self, text: str, nl: bool = True) -> None:
        """Progress output, to stderr (already redacted); on a terminal with its control
        sequence (erase to the end of the line), which click would strip from a non-tty."""
        click.echo(text, nl=nl, err=self.err is None, file=self.err, color=self.tty or None)

    def info(self, text: str) -> None:
        if not self.quiet:
            self._clear()
            self._echo(text, err=True)

    def error(self, text: str) -> None:
        """Something the user must act on (a file that could not be written): even with -q."""
        self._clear()
        self._echo(f"error: {text}", fg="red", err=True)

    def problems(self, problems: Iterable[Problem]) -> None:
        items = list(problems)
        for p in items:
            self._echo(p.render(), err=True)
        noun = "problem" if len(items) == 1 else "problems"
        click.secho(f"{len(items)} {noun} found; nothing was sent.", err=True,
                    fg="red" if "NO_COLOR" not in os.environ else None)

    def call(self, step: StepResult, res: CallResult) -> None:
        """A call settled (the executor's observer)."""
        if self.verbose:
            for r in res.retries:
                self._clear()
                self._echo(f"  retry {step.id} {res.label}: attempt {r.attempt} {r.reason}, "
                           f"waited {r.wait_s:.2f}s", err=True)
        loop = self.loops.get(step.id)
        if loop is None or loop.calls <= SHOW_EVERY_CALL or self.verbose:
            self.finish()
            if res.status != "ok" or not self.quiet:
                self._line(step, res)
            return
        bar = self._bar
        if bar is None or bar.loop is not loop:
            self.finish()
            # from when the first call began: its own time is part of the loop's
            bar = self._bar = _Bar(loop, self.clock() - res.duration_s)
            bar.line_at = bar.started
        bar.add(step, res)
        if res.status != "ok":
            bar.problems += 1
            if bar.problems <= MAX_PROBLEM_LINES:
                self._clear()
                self._line(step, res)
            elif bar.problems == MAX_PROBLEM_LINES + 1:
                self._clear()
                self._echo(f"{loop.id}: more calls did not succeed; the reports list every one",
                           err=True)
            if not self.quiet:
                bar.drawn_at = -math.inf  # back under the line just printed
        if not self.quiet:
            self._progress(bar, final=bar.done >= loop.calls)

    def _line(self, step: StepResult, res: CallResult) -> None:
        label, colour = _MARK.get(res.status, (res.status, None))
        detail = ""
        if res.status in ("failed", "ambiguous"):
            code = f"fault {res.fault_code}: " if res.fault_code is not None else ""
            detail = f"  {code}{res.fault_message or ''}"
        elif res.status == "skipped" and res.fault_message:
            detail = f"  {res.fault_message}"
        else:
            shown = {k: v for k, v in res.outputs.items() if isinstance(v, str | int | bool)}
            detail = "  " + " ".join(f"{k}={_show(v)}" for k, v in shown.items()) if shown else ""
        if res.resumed:
            detail += "  (from the journal)"
        if res.retries:
            detail += f"  ({len(res.retries)} retr{'y' if len(res.retries) == 1 else 'ies'})"
        what = f"{step.id} {res.label}".strip()
        self._echo(f"{what:<28} {step.operation or '':<22} {label:<9} "
                   f"{res.duration_s * 1000:7.1f} ms{detail}", fg=colour)

    # -- progress --------------------------------------------------------------------------
    def _progress(self, bar: _Bar, final: bool) -> None:
        now = self.clock()
        if self.tty:
            if final or now - bar.drawn_at >= REDRAW_S:
                self._frame(bar, now, final)
            return
        every = max(1, math.ceil(bar.loop.calls / LINES_PER_LOOP))
        if final or bar.done - max(bar.line_done, 0) >= every or now - bar.line_at >= LINE_EVERY_S:
            self._piped(bar, now, final)

    def _frame(self, bar: _Bar, now: float, final: bool) -> None:
        total = max(bar.loop.calls, bar.done)
        filled = BAR_WIDTH * bar.done // total if total else BAR_WIDTH
        head = f"{bar.loop.id} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
        text = head + " · ".join(bar.facts(now, final) + ([bar.where] if bar.where and not final
                                                            else []))
        import shutil  # here, not at the top: `validate` never draws a bar (~2.5 ms)

        width = self.width or shutil.get_terminal_size((100, 24)).columns
        text = self.redact(text)[:max(20, width - 1)]  # never wraps: \r redraws one line
        self._raw(f"\r{text}\033[K", nl=final)
        bar.drawn_at = now
        bar.on_screen = not final
        bar.line_done = bar.done

    def _piped(self, bar: _Bar, now: float, final: bool) -> None:
        facts = bar.facts(now, final)
        if bar.where and not final:
            facts.append(f"at {bar.where}")
        self._raw(self.redact(f"{bar.loop.id}: " + " · ".join(facts)))
        bar.line_at, bar.line_done = now, bar.done

    def _clear(self) -> None:
        """Take a terminal's bar off its line, so a line can be printed there."""
        bar = self._bar
        if bar is not None and bar.on_screen:
            self._raw("\r\033[K", nl=False)
            bar.on_screen = False

    def finish(self) -> None:
        """End the loop being shown: its last frame or line, with where it got."""
        bar, self._bar = self._bar, None
        if bar is None or self.quiet:
            return
        if bar.line_done != bar.done or bar.on_screen:
            now = self.clock()
            if self.tty:
                self._frame(bar, now, final=True)
            else:
                self._piped(bar, now, final=True)

    # -- the end ---------------------------------------------------------------------------
    def summary(self, result: RunResult, report: str | None) -> None:
        self.finish()
        counts = {s: sum(1 for r in result.steps if r.status == s)
                  for s in ("ok", "failed", "ambiguous", "interrupted", "skipped")}
        text = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        calls = [c for s in result.steps for c in s.calls]
        retries = sum(len(c.retries) for c in calls)
        bad = sum(1 for c in calls if c.status in ("failed", "ambiguous"))
        verdict = {"ok": "succeeded", "interrupted": "INTERRUPTED"}.get(result.status, "FAILED")
        tally = f"{len(calls)} calls" + (f", {bad} did not succeed" if bad else "")
        self._echo(f"{len(result.steps)} steps {verdict}: {text} ({tally}, {retries} retries)",
                   fg="green" if result.ok else "red", bold=True)
        for step in result.steps:
            failed = [c for c in step.calls if c.status in ("failed", "ambiguous")]
            if not failed or len(step.calls) < 2:
                continue  # a one-call step's failure is the line printed as it happened
            self._echo(f"  {step.id}: {len(failed)} of {len(step.calls)} calls did not succeed:")
            for c in failed[:SUMMARY_FAILURES]:
                code = f"fault {c.fault_code}: " if c.fault_code is not None else ""
                self._echo(f"    {c.label or c.key}: {c.status} {code}{c.fault_message or ''}")
            if len(failed) > SUMMARY_FAILURES:
                self._echo(f"    and {len(failed) - SUMMARY_FAILURES} more (every one is in "
                           "the reports)")
        for tolerance in result.max_failures:
            self._echo(f"  max_failures: {tolerance.describe()}", fg="yellow")
        if report:
            self._echo(f"report: {report}", err=True)
