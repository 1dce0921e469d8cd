"""summary.md: the verdict, failures first, a table of steps, and every call folded away.

It is written for GitHub's job summary, which refuses more than 1 MiB per step: the page is
filled in order of importance and trimmed, with a note, once the next part would not fit.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from runner.model import CallResult, RunResult, StepResult
from runner.report import facts
from runner.report.facts import Redact

LIMIT = 1024 * 1024  # bytes: GitHub's limit for one step summary
_RESERVE = 4096  # bytes kept back for closing tags and the trimmed note
MAX_FAILED_CALLS = 10  # per step in the failures list; every call is in the details
_CELL_CHARS = 300
_MD_SPECIAL = re.compile(r"([\\`*_\[\]~])")

Link = Callable[[str, int], str]


def relative_link(file: str, line: int) -> str:
    return f"{quote(file)}#L{line}"


class _Page:
    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.room = limit - _RESERVE
        self.trimmed = False

    def add(self, *lines: str) -> bool:
        """Adds all the lines or, once anything has not fit, nothing more."""
        text = "".join(line + "\n" for line in lines)
        size = len(text.encode("utf-8"))
        if self.trimmed or size > self.room:
            self.trimmed = True
            return False
        self.parts.append(text)
        self.room -= size
        return True

    def close(self, line: str) -> None:
        """Adds a line that must be there (a closing tag): once trimmed, _RESERVE pays for it."""
        self.parts.append(line + "\n")
        self.room -= len(line.encode("utf-8")) + 1


def render(result: RunResult, redact: Redact, *, link: Link = relative_link,
           limit: int = LIMIT) -> str:
    def text(value: object) -> str:
        return _escape(redact(str(value)))

    page = _Page(limit)
    page.add(f"### mktows-run: {text(result.name or result.playbook)}", "", _verdict(result, text))
    if result.preflight:
        page.add("", text(result.preflight))
    if result.interrupted:
        page.add("", "The run was interrupted: steps it did not reach are reported as skipped.")
        for step in result.steps:
            if step.note:  # the step it stopped in, and how far it got
                page.add("", f"Step {text(step.id)}: {text(step.note)}.")
    if result.max_failures:  # loops that went past failures: still failures
        page.add("", "Failures tolerated by max_failures (these steps are still failed):", "")
        for tolerance in result.max_failures:
            page.add(f"- {text(tolerance.describe())}")
    _failures(page, result, text, link)
    _steps_table(page, result, text)
    _details(page, result, text)
    if page.trimmed:
        page.close("")
        page.close("> **Trimmed** to stay under GitHub's 1 MiB summary limit: "
                    "the full record of every call is in results.json.")
    return "".join(page.parts)


def _escape(value: str) -> str:
    # One line, no HTML (a message holding </details> must not end the fold) and no Markdown
    # emphasis, links or table breaks from text that came from Marketo or a data file.
    one_line = " ".join(value.split())
    if len(one_line) > _CELL_CHARS:
        one_line = one_line[:_CELL_CHARS] + "..."
    return html.escape(_MD_SPECIAL.sub(r"\\\1", one_line), quote=False).replace("|", "&#124;")


def _plural(n: int, one: str, many: str = "") -> str:
    return f"{n} {one}" if n == 1 else f"{n} {many or one + 's'}"


def _tally(statuses: Iterable[str]) -> str:
    return ", ".join(f"{n} {s}" for s, n in facts.counts(statuses).items() if n) or "none"


def _verdict(result: RunResult, text: Callable[[object], str]) -> str:
    calls = [c for s in result.steps for c in s.calls]
    retries = sum(len(c.retries) for c in calls)
    parts = [f"**{result.status.upper()}**", text(result.playbook),
             f"steps: {_tally(s.status for s in result.steps)}",
             f"calls: {_tally(c.status for c in calls)}",
             f"{_plural(sum(c.attempts for c in calls), 'attempt')}, "
             f"{_plural(retries, 'retry', 'retries')}",
             f"{facts.seconds(sum(s.duration_s for s in result.steps))} s"]
    if result.run_id:
        parts.append(f"run {text(result.run_id)}")
    return " · ".join(parts)


def _failures(page: _Page, result: RunResult, text: Callable[[object], str], link: Link) -> None:
    bad = [s for s in result.steps if s.status == "failed"]
    bad += [s for s in result.steps if s.status == "ambiguous"]
    if not bad:
        return
    page.add("", "#### Failures", "")
    for step in bad:
        first = step.failure
        assert first is not None  # a failed or ambiguous step has a failed or ambiguous call
        where = f"[{text(f'{result.playbook}#L{step.line}')}]({link(result.playbook, step.line)})"
        head = (f"- **{step.status.upper()}** step {text(step.id)} ({text(step.operation or '')}) "
                f"at {where}: {text(facts.problem(first))}")
        if len(step.calls) == 1:  # the step is its call: one line says it all
            page.add(f"{head} ({_attempts(first, text)})")
            continue
        if not page.add(head):
            return
        failed = [c for c in step.calls if c.status in ("failed", "ambiguous")]
        for call in failed[:MAX_FAILED_CALLS]:
            page.add(f"  - {text(facts.call_name(step, call))}: {text(facts.problem(call))} "
                     f"({_attempts(call, text)})")
        rest = failed[MAX_FAILED_CALLS:]
        if rest:  # every failed call is listed, folded (as far as the page allows)
            page.add(f"  - and {len(rest)} more:", "",
                     f"<details><summary>{len(rest)} more failed calls of "
                     f"{text(step.id)}</summary>", "")
            for call in rest:
                if not page.add(f"- {text(facts.call_name(step, call))}: "
                                f"{text(facts.problem(call))}"):
                    break
            page.close("")
            page.close("</details>")
            page.add("")


def _attempts(call: CallResult, text: Callable[[object], str]) -> str:
    retried = "; ".join(facts.retry_line(r) for r in call.retries)
    return _plural(call.attempts, "attempt") + (f"; {text(retried)}" if retried else "")


def _steps_table(page: _Page, result: RunResult, text: Callable[[object], str]) -> None:
    page.add("", "#### Steps", "",
             "| status | step | operation | calls ok / failed / ambiguous | attempts | duration (s) |",
             "| --- | --- | --- | --- | ---: | ---: |")
    for step in result.steps:
        n = facts.counts(c.status for c in step.calls)
        page.add(f"| {_status(step.status)} | {text(step.id)} | {text(step.operation or '')} | "
                 f"{n['ok']} / {n['failed']} / {n['ambiguous']} | {step.attempts} | "
                 f"{facts.seconds(step.duration_s)} |")


def _status(status: str) -> str:
    # Without emoji, the statuses that need a reader's attention are the loud ones.
    return status.upper() if status in ("failed", "ambiguous") else status


def _details(page: _Page, result: RunResult, text: Callable[[object], str]) -> None:
    for step in (s for s in result.steps if s.calls):
        tally = _tally(c.status for c in step.calls)
        summary = f"{text(step.id)}: {_plural(len(step.calls), 'call')} ({tally})"
        if not page.add("", f"<details><summary>{summary}</summary>", "",
                        "| call | status | attempts | retries | duration (s) | result |",
                        "| --- | --- | ---: | ---: | ---: | --- |"):
            return
        for call in step.calls:
            if not page.add(_call_row(step, call, text)):
                break
        page.close("")
        page.close("</details>")


def _call_row(step: StepResult, call: CallResult, text: Callable[[object], str]) -> str:
    status = _status(call.status) + (" (resumed)" if call.resumed else "")
    if call.status in ("failed", "ambiguous"):
        outcome = text(facts.problem(call))
    elif call.status == "skipped" and call.fault_message:  # why it was not sent
        outcome = text(call.fault_message)
    else:
        outcome = text(" ".join(f"{k}={_scalar(v)}" for k, v in call.outputs.items()
                                if isinstance(v, str | int | float | bool)))
    return (f"| {text(facts.call_name(step, call))} | {status} | {call.attempts} | "
            f"{len(call.retries)} | {facts.seconds(call.duration_s)} | {outcome} |")


def _scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
