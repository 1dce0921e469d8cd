"""How a plan is shown: text for the console, Markdown for a pull request, redacted envelope
files. Pure formatting of app.Plan / app.CallInfo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from runner import operations
from runner.model import Problem
from runner.prepare import CallInfo, StepPlan, call_note

if TYPE_CHECKING:
    from runner.prepare import Plan

DAILY_QUOTA = 10_000


def quota_line(total: int, quota: int = DAILY_QUOTA) -> str:
    share = 100.0 * total / quota
    calls = f"{total} call{'s' if total != 1 else ''}"
    return f"{calls}, {share:.2f}% of the daily quota of {quota:,}" + (
        f"  ({quota_warning(total, quota)})" if total > quota else "")


def quota_warning(total: int, quota: int = DAILY_QUOTA) -> str:
    """The same words wherever a plan is too big for a day: validate, plan and run."""
    return (f"{total:,} calls are more than one day's quota of {quota:,}: the run would "
            "stop with fault 20015 part-way; split the data, or run with --allow-over-quota")


def _hidden(step: StepPlan) -> str:
    return f"... {step.hidden} more call{'s' if step.hidden != 1 else ''} of step {step.id}"


CAMPAIGN_MARK = "CAMPAIGN"  # calls that run people through a campaign (emails go out)


def _what(st: StepPlan) -> str:
    """The step in words: its name, what the operation does, and whether it is left out."""
    doc = operations.get(st.operation).doc
    said = f"{st.name}: {doc}" if st.name else doc
    if st.calls == 0 and st.skipped:
        said += f" -- skipped ({sorted(set(st.skipped))[0]})"
    return said


def _mark(st: StepPlan) -> str:
    return CAMPAIGN_MARK if not operations.get(st.operation).idempotent else ""


def _target_line(plan: Plan) -> str:
    target = plan.playbook.target or {}
    where = target.get("endpoint") or target.get("munchkinId") or target.get("restEndpoint")
    said = f"the playbook's target ({where})" if where else "no target: --sandbox"
    return f"Target: {said}, over {plan.api.upper()}"


def text(plan: Plan) -> str:
    lines = [f"Plan: {plan.playbook.name} ({plan.playbook.file}), WSDL "
             f"{Path(plan.schema.source).name}", _target_line(plan), ""]
    lines.append(f"  {'step':<18} {'operation':<22} {'calls':>7} {'records':>8}  {'':<8}  what")
    for st in plan.steps.values():
        lines.append(f"  {st.id:<18} {st.operation:<22} {st.calls:>7} {st.records:>8}  "
                     f"{_mark(st):<8}  {_what(st)}".rstrip())
    lines += ["", f"  {'step':<18} {'call':<28} {'operation':<22} {'records':>7}  details"]
    for st in plan.steps.values():
        for i, c in enumerate(st.listed):
            if i == len(st.first) and st.hidden:
                lines.append(f"  {_hidden(st)}")
            detail = " ".join(p for p in (c.summary, call_note(c)) if p)
            lines.append(f"  {c.step:<18} {c.label or '1':<28} {c.operation:<22} {c.records:>7}"
                         f"  {detail}".rstrip())
    lines += _data_lines(plan, "  ")
    lines += ["", _api_line(plan), *(f"  {step}: {note}" for step, note in _rest_notes(plan)),
              quota_line(plan.quota_calls, plan.daily_quota)]
    return "\n".join(lines)


def _rest_notes(plan: Plan) -> list[tuple[str, str]]:
    """(step, note) for what each step's operation does differently over REST (a bulk
    import instead of importToList, the lookups it makes, ...), in step order."""
    if plan.rest is None:
        return []
    return [(step, note) for step in plan.steps
            for note in sorted(plan.rest.notes.get(step, ()))]


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
    campaigns = sum(st.calls for st in plan.steps.values() if _mark(st))
    out = [f"### mktows-run plan: {_cell(pb.name)}", "",
           f"`{pb.file}` — **{quota_line(total, plan.daily_quota)}** — {_cell(_api_line(plan))}",
           f"{_cell(_target_line(plan))}"
           + (f" — :warning: **{campaigns} campaign call(s): these send what the campaigns "
              "send to real people**" if campaigns else ""),
           "", "| step | what | operation | calls | records | notes |",
           "| --- | --- | --- | ---: | ---: | --- |"]
    rest_notes = plan.rest.notes if plan.rest is not None else {}
    for st in plan.steps.values():
        notes = sorted(st.notes | rest_notes.get(st.id, set()))
        op = f"**:warning: {st.operation}**" if _mark(st) else st.operation
        out.append(f"| `{st.id}` | {_cell(_what(st))} | {op} | {st.calls} | {st.records} | "
                   f"{_cell('; '.join(notes))} |")
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


def as_json(plan: Plan, preflight: str | None = None) -> dict[str, object]:
    """The plan for machines: every step with its exact counts, first and last calls."""
    def call(c: CallInfo) -> dict[str, object]:
        return {"key": c.key, "label": c.label, "summary": c.summary, "records": c.records,
                "pending": list(c.pending), "condition": c.condition}

    return {
        "playbook": plan.playbook.file, "name": plan.playbook.name, "api": plan.api,
        "target": _target_line(plan), "calls": plan.total_calls,
        "quota_calls": plan.quota_calls, "daily_quota": plan.daily_quota,
        "steps": [{"id": st.id, "name": st.name, "operation": st.operation, "what": _what(st),
                   "campaign": bool(_mark(st)), "calls": st.calls, "records": st.records,
                   "skipped": sorted(set(st.skipped)), "notes": sorted(st.notes),
                   "first": [call(c) for c in st.first], "last": [call(c) for c in st.last],
                   "hidden": st.hidden} for st in plan.steps.values()],
        "data_files": [{"name": d.name, "path": d.path, "outside": d.outside}
                       for d in plan.data_files],
        "preflight": preflight,
    }


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
