"""How a plan is shown: text for the console, Markdown for a pull request, redacted envelope
files. Pure formatting of app.Plan / app.CallInfo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from runner.model import Problem

if TYPE_CHECKING:
    from runner.app import CallInfo, Plan

DAILY_QUOTA = 10_000


def _per_step(calls: list[CallInfo]) -> dict[str, list[CallInfo]]:
    grouped: dict[str, list[CallInfo]] = {}
    for c in calls:
        grouped.setdefault(c.step, []).append(c)
    return grouped


def _note(call: CallInfo) -> str:
    notes = []
    if call.pending:
        notes.append("values known after step " + ", ".join(call.pending))
    if call.condition:
        notes.append(f"runs if its condition holds ({call.condition})")
    return "; ".join(notes)


def quota_line(total: int) -> str:
    share = 100.0 * total / DAILY_QUOTA
    warn = ("  (more than one day's quota: the run will hit fault 20015)"
            if total > DAILY_QUOTA else "")
    calls = f"{total} call{'s' if total != 1 else ''}"
    return f"{calls}, {share:.2f}% of the daily quota of {DAILY_QUOTA:,}{warn}"


def text(plan: Plan) -> str:
    calls = plan.calls
    lines = [f"Plan: {plan.playbook.name} ({plan.playbook.file}), WSDL "
             f"{Path(plan.schema.source).name}", ""]
    lines.append(f"  {'step':<18} {'call':<28} {'operation':<22} {'records':>7}  details")
    for c in calls:
        detail = " ".join(p for p in (c.summary, _note(c)) if p)
        lines.append(f"  {c.step:<18} {c.label or '1':<28} {c.operation:<22} {c.records:>7}  {detail}")
    total = plan.total_calls
    if total > len(calls):
        lines.append(f"  ... and {total - len(calls)} more calls")
    lines += ["", quota_line(total)]
    return "\n".join(lines)


def markdown(plan: Plan) -> str:
    pb = plan.playbook
    total = plan.total_calls
    out = [f"### mktows-run plan: {pb.name}", "", f"`{pb.file}` — **{quota_line(total)}**", "",
           "| step | operation | calls | records | notes |", "| --- | --- | ---: | ---: | --- |"]
    for step, calls in _per_step(plan.calls).items():
        notes = sorted({n for n in (_note(c) for c in calls) if n})
        out.append(f"| `{step}` | {calls[0].operation} | {len(calls)} | "
                   f"{sum(c.records for c in calls)} | {'; '.join(notes)} |")
    out += ["", "<details><summary>Every call</summary>", "",
            "| step | call | details |", "| --- | --- | --- |"]
    for c in plan.calls[:500]:
        out.append(f"| `{c.step}` | {c.label or '1'} | {c.summary.replace('|', '/')} |")
    if total > 500:
        out.append(f"| … | {total - 500} more | |")
    out += ["", "</details>", ""]
    return "\n".join(out)


def problems_json(problems: list[Problem]) -> list[dict[str, object]]:
    return [{"file": p.location.file, "line": p.location.line, "col": p.location.col,
             "path": p.path, "message": p.message, "hint": p.hint} for p in problems]


def problems_github(problems: list[Problem]) -> str:
    def esc(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    return "\n".join(
        f"::error file={p.location.file},line={p.location.line},col={p.location.col}::"
        + esc(f"{p.path}: {p.message}" if p.path else p.message)
        + (esc(f" (hint: {p.hint})") if p.hint else "") for p in problems)
