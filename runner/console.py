"""What a person sees: problems, calls, progress, a summary. Always through the redactor.

On a terminal a loop shows a progress line; in a log (not a TTY) it prints every tenth of
the way. NO_COLOR turns colours off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import TextIO

import click

from runner.model import CallResult, Problem, RunResult, StepResult
from runner.secrets import Redactor

_MARK = {"ok": ("ok", None), "failed": ("FAILED", "red"), "skipped": ("skipped", "yellow"),
         "ambiguous": ("AMBIGUOUS", "magenta")}
SHOW_EVERY_CALL = 20  # a step with more calls than this is shown as progress


def _show(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class Console:
    def __init__(self, redact: Callable[[str], str] | None = None, quiet: bool = False,
                 verbose: bool = False, totals: dict[str, int] | None = None,
                 stream: TextIO | None = None) -> None:
        # Even before a run's secrets are known, a URL's user:password@ and anything shaped
        # like a request signature are masked; a run sets its own redactor (`redact`).
        self.redact: Callable[[str], str] = redact if redact is not None else Redactor()
        self.quiet = quiet
        self.verbose = verbose
        self.totals = totals or {}
        self.stream = stream or sys.stdout
        self.color = "NO_COLOR" not in os.environ and self.stream.isatty()
        self.tty = sys.stderr.isatty()
        self._done: dict[str, int] = {}

    def _echo(self, text: str, fg: str | None = None, err: bool = False, bold: bool = False) -> None:
        click.secho(self.redact(text), fg=fg if self.color else None, bold=bold and self.color,
                    err=err, file=None if err else self.stream, color=self.color)

    def info(self, text: str) -> None:
        if not self.quiet:
            click.echo(self.redact(text), err=True)

    def error(self, text: str) -> None:
        """Something the user must act on (a file that could not be written): even with -q."""
        self._clear_progress()
        self._echo(f"error: {text}", fg="red", err=True)

    def problems(self, problems: Iterable[Problem]) -> None:
        items = list(problems)
        for p in items:
            click.echo(self.redact(p.render()), err=True)
        noun = "problem" if len(items) == 1 else "problems"
        click.secho(f"{len(items)} {noun} found; nothing was sent.", err=True,
                    fg="red" if "NO_COLOR" not in os.environ else None)

    def call(self, step: StepResult, res: CallResult) -> None:
        total = self.totals.get(step.id, 0)
        done = self._done[step.id] = self._done.get(step.id, 0) + 1
        if self.verbose:
            for r in res.retries:
                self._echo(f"  retry {step.id} {res.label}: attempt {r.attempt} {r.reason}, "
                           f"waited {r.wait_s:.2f}s", err=True)
        big = total > SHOW_EVERY_CALL and not self.verbose
        if res.status == "ok" and (self.quiet or big):
            self._progress(step, done, total)
            return
        label, colour = _MARK.get(res.status, (res.status, None))
        detail = ""
        if res.status in ("failed", "ambiguous"):
            code = f"fault {res.fault_code}: " if res.fault_code is not None else ""
            detail = f"  {code}{res.fault_message or ''}"
        else:
            shown = {k: v for k, v in res.outputs.items() if isinstance(v, str | int | bool)}
            detail = "  " + " ".join(f"{k}={_show(v)}" for k, v in shown.items()) if shown else ""
        if res.resumed:
            detail += "  (from the journal)"
        if res.retries:
            detail += f"  ({len(res.retries)} retr{'y' if len(res.retries) == 1 else 'ies'})"
        what = f"{step.id} {res.label}".strip()
        self._clear_progress()
        self._echo(f"{what:<28} {step.operation or '':<22} {label:<9} "
                   f"{res.duration_s * 1000:7.1f} ms{detail}", fg=colour)

    def _progress(self, step: StepResult, done: int, total: int) -> None:
        if self.quiet or not total:
            return
        if self.tty:
            width = 30
            filled = width * done // total
            click.echo(f"\r{step.id:<20} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
                       nl=done >= total, err=True)
        elif done == total or done % max(1, total // 10) == 0:
            click.echo(f"{step.id}: {done}/{total} calls done", err=True)

    def _clear_progress(self) -> None:
        if self.tty and not self.quiet:
            click.echo("\r\033[K", nl=False, err=True)

    def summary(self, result: RunResult, report: str | None) -> None:
        counts = {s: sum(1 for r in result.steps if r.status == s)
                  for s in ("ok", "failed", "ambiguous", "interrupted", "skipped")}
        text = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        calls = sum(len(s.calls) for s in result.steps)
        retries = sum(len(c.retries) for s in result.steps for c in s.calls)
        verdict = {"ok": "succeeded", "interrupted": "INTERRUPTED"}.get(result.status, "FAILED")
        self._echo(f"{len(result.steps)} steps {verdict}: {text} ({calls} calls, "
                   f"{retries} retries)", fg="green" if result.ok else "red", bold=True)
        if report:
            click.echo(self.redact(f"report: {report}"), err=True)
