"""How a plan is shown: text for the console, Markdown for a pull request, redacted envelope
files. Pure formatting of app.Plan / app.CallInfo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from runner.model import Problem
from runner.prepare import StepPlan, call_note

if TYPE_CHECKING:
    from runner.prepare import Plan

DAILY_QUOTA = 10_000


def quota_line(total: int) -> str:
    share = 100.0 * total / DAILY_QUOTA
    calls = f"{total} call{'s' if total != 1 else ''}"
    return f"{calls}, {share:.2f}% of the daily quota of {DAILY_QUOTA:,}" + (
        f"  ({quota_warning(total)})" if total > DAILY_QUOTA else "")


def quota_warning(total: int) -> str:
    """The same words wherever a plan is too big for a day: validate, plan and run."""
    return (f"{total:,} calls are more than one day's quota of {DAILY_QUOTA:,}: the run would "
            "stop with fault 20015 part-way; split the data, or run with --allow-over-quota")


def _hidden(step: StepPlan) -> str:
    return f"... {step.hidden} more call{'s' if step.hidden != 1 else ''} of step {step.id}"


def text(plan: Plan) -> str:
    lines = [f"Plan: {plan.playbook.name} ({plan.playbook.file}), WSDL "
             f"{Path(plan.schema.source).name}", ""]
    lines.append(f"  {'step':<18} {'operation':<22} {'calls':>7} {'records':>8}  name")
    for st in plan.steps.values():
        lines.append(f"  {st.id:<18} {st.operation:<22} {st.calls:>7} {st.records:>8}  "
                     f"{st.name or ''}".rstrip())
    lines += ["", f"  {'step':<18} {'call':<28} {'operation':<22} {'records':>7}  details"]
    for st in plan.steps.values():
        for i, c in enumerate(st.listed):
            if i == len(st.first) and st.hidden:
                lines.append(f"  {_hidden(st)}")
            detail = " ".join(p for p in (c.summary, call_note(c)) if p)
            lines.append(f"  {c.step:<18} {c.label or '1':<28} {c.operation:<22} {c.records:>7}"
                         f"  {detail}".rstrip())
    lines += _data_lines(plan, "  ")
    lines += ["", _api_line(plan), quota_line(plan.quota_calls)]
    return "\n".join(lines)


def _data_lines(plan: Plan, indent: str) -> list[str]:
    sources = list(plan.data_files)
    if not sources:
        return []
    return ["", "Data files read:"] + [
        f"{indent}{d.name} -> {d.path}"
        + ("  (OUTSIDE the playbook's repository: check this is intended)" if d.outside else "")
        for d in sources]


def _api_line(plan: Plan) -> str:
    if plan.rest is None:
        return "API: SOAP (mktows)"
    once = ", ".join(sorted(plan.rest.once)) or "none"
    return (f"API: REST: {plan.rest.calls} call(s) for the {plan.total_calls} operation call(s),"
            f" plus {len(plan.rest.once)} lookup(s) made once per run ({once})")


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def markdown(plan: Plan) -> str:
    pb = plan.playbook
    total = plan.quota_calls
    out = [f"### mktows-run plan: {_cell(pb.name)}", "",
           f"`{pb.file}` — **{quota_line(total)}** — {_cell(_api_line(plan))}",
           "", "| step | operation | calls | records | notes |", "| --- | --- | ---: | ---: | --- |"]
    for st in plan.steps.values():
        out.append(f"| `{st.id}` | {st.operation} | {st.calls} | {st.records} | "
                   f"{_cell('; '.join(sorted(st.notes)))} |")
    out += [line.replace("OUTSIDE", "**OUTSIDE**") for line in _data_lines(plan, "- ")]
    out += ["", "<details><summary>Calls (long loops: first and last)</summary>", "",
            "| step | call | details |", "| --- | --- | --- |"]
    for st in plan.steps.values():
        for i, c in enumerate(st.listed):
            if i == len(st.first) and st.hidden:
                out.append(f"| `{st.id}` | … | {_hidden(st)} |")
            # Masked before _cell rewrites it: a secret holding | would no longer match.
            out.append(f"| `{c.step}` | {c.label or '1'} | {_cell(plan.redactor(c.summary))} |")
    out += ["", "</details>", ""]
    return "\n".join(out)


def problems_json(problems: list[Problem]) -> list[dict[str, object]]:
    return [{"file": p.location.file, "line": p.location.line, "col": p.location.col,
             "path": p.path, "message": p.message, "hint": p.hint} for p in problems]


def problems_github(problems: list[Problem]) -> str:
    """Workflow annotations, escaped as report/github.py escapes a run's (file= included)."""
    from runner.report.github import escape_data, escape_property

    return "\n".join(
        f"::error file={escape_property(p.location.file)},line={p.location.line},"
        f"col={p.location.col}::"
        + escape_data(f"{p.path}: {p.message}" if p.path else p.message)
        + (escape_data(f" (hint: {p.hint})") if p.hint else "") for p in problems)
