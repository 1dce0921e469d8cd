"""What a person sees: problems, one line per step, a summary. Always through the redactor."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import click

from runner.model import CallResult, Problem, RunResult, StepResult

_MARK = {"ok": ("ok", "green"), "failed": ("FAILED", "red"), "skipped": ("skipped", "yellow")}


def _show(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class Console:
    def __init__(self, redact: Callable[[str], str] = lambda s: s, quiet: bool = False) -> None:
        self.redact = redact
        self.quiet = quiet

    def info(self, text: str) -> None:
        if not self.quiet:
            click.echo(self.redact(text), err=True)

    def error(self, text: str) -> None:
        click.secho(self.redact(text), err=True, fg="red")

    def problems(self, problems: Iterable[Problem]) -> None:
        items = list(problems)
        for p in items:
            click.echo(self.redact(p.render()), err=True)
        noun = "problem" if len(items) == 1 else "problems"
        click.secho(f"{len(items)} {noun} found; nothing was sent.", err=True, fg="red")

    def call(self, step: StepResult, res: CallResult) -> None:
        label, colour = _MARK.get(res.status, (res.status, "white"))
        detail = ""
        if res.status == "failed":
            code = f"fault {res.fault_code}: " if res.fault_code is not None else ""
            detail = f"  {code}{res.fault_message or ''}"
        else:
            shown = {k: v for k, v in res.outputs.items() if isinstance(v, str | int | bool)}
            detail = "  " + " ".join(f"{k}={_show(v)}" for k, v in shown.items()) if shown else ""
        what = f"{step.id} {res.label}".strip()
        line = f"{what:<28} {step.operation or '':<22} {label:<7} {res.duration_s * 1000:7.1f} ms{detail}"
        click.secho(self.redact(line), fg=colour if res.status != "ok" else None)

    def summary(self, result: RunResult, report: str | None) -> None:
        counts = {s: sum(1 for r in result.steps if r.status == s) for s in ("ok", "failed",
                                                                              "skipped")}
        text = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        verdict = "succeeded" if result.ok else "FAILED"
        click.secho(self.redact(f"{len(result.steps)} steps {verdict}: {text}"),
                    fg="green" if result.ok else "red", bold=True)
        if report:
            click.echo(f"report: {report}", err=True)
