"""junit.xml in the Jenkins/Ant JUnit format that CI systems read: one testcase per call.

A Marketo fault is a <failure> (the playbook asked for something Marketo refused); transport,
response and ambiguous outcomes are <error>s (the call itself did not complete), so a CI
dashboard separates "the data is wrong" from "the network or the service is".
"""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from runner.model import CallResult, RunResult, StepResult
from runner.report import facts
from runner.report.facts import Redact

# XML 1.0 cannot carry these at all, not even escaped; a fault message may contain them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# What xs:dateTime accepts, so `timestamp` is only written when it is one.
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def render(result: RunResult, redact: Redact) -> str:
    def clean(text: str) -> str:
        return _NOT_XML.sub("\ufffd", redact(text))

    # A step that made no call is still a testcase, so a skipped step shows up in CI.
    cases = [_case(result, step, call, clean) for step in result.steps
             for call in _calls_or_none(step)]
    tally = {tag: sum(1 for c in cases if c.find(tag) is not None)
             for tag in ("failure", "error", "skipped")}
    totals = {"tests": str(len(cases)), "failures": str(tally["failure"]),
              "errors": str(tally["error"]), "skipped": str(tally["skipped"]),
              "time": facts.seconds(sum(s.duration_s for s in result.steps))}
    root = ET.Element("testsuites", {"name": "mktows-run", **totals})
    suite = ET.SubElement(root, "testsuite", {"name": clean(result.name or result.playbook),
                                              **totals})
    if _DATETIME.fullmatch(result.started_at):
        suite.set("timestamp", result.started_at)
    suite.extend(cases)
    ET.SubElement(suite, "system-out").text = clean(_run_notes(result))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _calls_or_none(step: StepResult) -> list[CallResult | None]:
    return [*step.calls] if step.calls else [None]


def _case(result: RunResult, step: StepResult, call: CallResult | None,
          clean: Redact) -> ET.Element:
    case = ET.Element("testcase", {
        "name": clean(facts.call_name(step, call) if call else step.id),
        "classname": clean(step.id),
        "time": facts.seconds(call.duration_s if call else 0.0),
        "file": clean(result.playbook),
    })
    if step.line >= 1:
        case.set("line", str(step.line))
    if call is None or call.status == "skipped":
        why = call.fault_message if call is not None and call.fault_message else "not run"
        ET.SubElement(case, "skipped", {"message": clean(why)})
    elif call.status in ("failed", "ambiguous"):
        kind = facts.kind(call)
        tag = "failure" if kind in ("fault", "records") else "error"  # Marketo said no
        problem = facts.problem(call)
        detail = ET.SubElement(case, tag, {"message": clean(problem), "type": kind})
        where = f"{result.playbook}:{step.line}"
        detail.text = clean(f"{problem}\nstep {step.id} ({step.operation}) at {where}, "
                            f"{call.attempts} attempt(s)")
    notes = [facts.retry_line(r) for r in call.retries] if call else []
    if call is not None and call.resumed:
        notes.append("settled by an earlier run (from its journal); not sent again")
    if notes:
        ET.SubElement(case, "system-out").text = clean("\n".join(notes))
    return case


def _run_notes(result: RunResult) -> str:
    lines = [f"status: {result.status}", f"run id: {result.run_id or '-'}",
             f"endpoint: {facts.public_endpoint(result.endpoint)}", f"started: {result.started_at}",
             f"finished: {result.finished_at}"]
    if result.interrupted:
        lines.append("the run was interrupted: steps it did not reach are reported as skipped")
        lines += [f"step {s.id}: {s.note}" for s in result.steps if s.note]
    lines += [f"max_failures: {t.describe()}" for t in result.max_failures]
    return "\n".join(lines)
