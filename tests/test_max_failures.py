"""Keep going on item failures: max_failures (a step's or a group's) and --max-failures, through
the real CLI and the sandbox. A tolerated failure is still a failure (the step and the run are
failed, exit 1), every failed item is in every report, an ambiguous call is never tolerated,
and a call that would read a failed step's outputs is never sent with made-up values."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest

from runner import journal
from runner import sandbox as box
from runner.model import CallResult, RunResult, StepResult, Tolerance
from runner.options import MaxFailures, RunOptions, Sending
from runner.report import json_writer, markdown_writer
from runner.secrets import Redactor
from tests.conftest import ROOT, TARGET_YAML, target_env
from tests.test_executor import FAST, Scripted, _execute, _plan

# Items 2 and 4 name a lead Id that does not exist: fault 20103 for them, the rest are synced.
FIVE = """\
version: 1
name: Some bad rows
{target}steps:
  - id: sync
{limit}    loop:
      items:
        - {{email: a@example.com, id: null}}
        - {{email: b@example.com, id: 999999}}
        - {{email: c@example.com, id: null}}
        - {{email: d@example.com, id: 999998}}
        - {{email: e@example.com, id: null}}
    syncLead:
      leadRecord: {{Id: "${{item.id}}", Email: "${{item.email}}"}}
  - id: after
    syncLead:
      leadRecord: {{Email: after@example.com}}
"""


def _write(tmp_path: Path, text: str, name: str = "p.yml") -> str:
    (tmp_path / name).write_text(text)
    return name


def _five(tmp_path: Path, limit: str | None = None) -> str:
    line = f"    max_failures: {limit}\n" if limit is not None else ""
    return _write(tmp_path, FIVE.format(target=TARGET_YAML, limit=line))


def _results(path: Path) -> dict:
    data = json.loads(path.read_text())
    schema = json.loads((ROOT / "schemas" / "results.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    return data


def _calls(report: dict, step: str) -> list[tuple[str, str]]:
    found = next(s for s in report["steps"] if s["id"] == step)
    return [(c["label"].split(" (")[0], c["status"]) for c in found["calls"]]


@pytest.mark.parametrize(("text", "count", "percent", "allowed"), [
    ("0", 0, None, 0), ("10", 10, None, 10), (7, 7, None, 7),
    ("5%", None, 5.0, 150), ("2.5%", None, 2.5, 75), ("100%", None, 100.0, 3000),
    ("0.1%", None, 0.1, 3),
])
def test_a_limit_is_a_count_or_a_share_of_the_planned(text, count, percent, allowed):
    limit = MaxFailures.parse(text)
    assert (limit.count, limit.percent) == (count, percent)
    assert limit.allowed(3000) == allowed
    assert MaxFailures.parse(str(limit)) == limit


@pytest.mark.parametrize("text", ["-1", "abc", "5 %", "101%", "%", "1e3", True, -2, "١٢"])
def test_a_limit_that_is_neither_is_refused(text):
    with pytest.raises(ValueError, match=r"count|percentage"):
        MaxFailures.parse(text)


def test_the_default_still_stops_at_the_first_failure(run_cli, sandbox, tmp_path):
    res = run_cli(_five(tmp_path), env=target_env(sandbox))
    assert res.code == 1
    report = _results(tmp_path / "results.json")
    assert _calls(report, "sync") == [("item 1", "ok"), ("item 2", "failed")]
    assert _calls(report, "after") == []
    assert report["max_failures"] == []


def test_the_command_line_lets_a_loop_go_past_failed_items_and_says_so_everywhere(
        run_cli, sandbox, tmp_path):
    res = run_cli(_five(tmp_path), "--max-failures", "2", "--junit", "junit.xml",
                  "--markdown", "summary.md", env=target_env(sandbox))
    assert res.code == 1, res.err  # still a failure: never greener than the truth
    report = _results(tmp_path / "results.json")
    assert report["status"] == "failed"
    sync = next(s for s in report["steps"] if s["id"] == "sync")
    assert sync["status"] == "failed" and sync["fault"]["code"] == 20103
    assert _calls(report, "sync") == [("item 1", "ok"), ("item 2", "failed"), ("item 3", "ok"),
                                      ("item 4", "failed"), ("item 5", "ok")]
    assert _calls(report, "after") == [("", "ok")]  # the run went on
    assert report["max_failures"] == [{"id": "sync", "kind": "step", "limit": "2", "total": 5,
                                       "allowed": 2, "failed": 2, "exceeded": False}]
    assert len(box.open_store(sandbox.db_path).leads()) == 4  # a, c, e and after
    # every report lists both failed items
    cases = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    failures = [c.get("name") for c in cases if c.find("failure") is not None]
    assert [f.split(" (")[0] for f in failures] == ["item 2", "item 4"]
    markdown = (tmp_path / "summary.md").read_text()
    assert "step sync: 2 of 5 calls failed (max\\_failures 2: 2 allowed); the run went on" in (
        markdown)
    assert "item 2 (p.yml" in markdown and "item 4 (p.yml" in markdown
    assert "999998" in markdown and "999999" in markdown
    assert "2 steps FAILED: 1 ok, 1 failed (6 calls, 2 did not succeed" in res.out
    assert "sync: 2 of 5 calls did not succeed" in res.out
    assert "max_failures: step sync: 2 of 5 calls failed" in res.out
    # results.json reads back to the same record (`mktows-run report` re-renders from it)
    assert json_writer.read(tmp_path / "results.json").max_failures[0].failed == 2


def test_one_failure_more_than_allowed_stops_the_run_there(run_cli, sandbox, tmp_path):
    res = run_cli(_five(tmp_path, "1"), env=target_env(sandbox))
    assert res.code == 1
    report = _results(tmp_path / "results.json")
    assert _calls(report, "sync")[-1] == ("item 4", "failed")
    assert len(_calls(report, "sync")) == 4 and _calls(report, "after") == []
    assert report["max_failures"][0]["exceeded"] is True
    assert "more than allowed: the run stopped" in res.out


def test_a_steps_own_percentage_beats_the_command_line(run_cli, sandbox, tmp_path):
    # 40% of 5 items is 2: both bad rows pass although the command line says 0
    res = run_cli(_five(tmp_path, "40%"), "--max-failures", "0", env=target_env(sandbox))
    assert res.code == 1
    report = _results(tmp_path / "results.json")
    assert _calls(report, "after") == [("", "ok")]
    assert report["max_failures"][0]["limit"] == "40%"
    assert report["max_failures"][0]["allowed"] == 2


GROUP = """\
version: 1
{target}steps:
  - id: onboard
    max_failures: 1
    loop: {{file: leads.csv, columns: [{{name: Email, required: true}}, {{name: Id, type: integer}}]}}
    steps:
      - id: sync
        syncLead:
          leadRecord: {{Id: "${{item.Id}}", Email: "${{item.Email}}"}}
      - id: welcome
        requestCampaign:
          campaignId: 1001
          leadList: [{{keyType: IDNUM, keyValue: "${{steps.sync.leadId}}"}}]
"""


def test_a_failed_group_item_sends_nothing_more_for_that_item(run_cli, sandbox, tmp_path):
    (tmp_path / "leads.csv").write_text(
        "Email,Id\nok1@example.com,\nbad@example.com,424242\nok2@example.com,\n")
    res = run_cli(_write(tmp_path, GROUP.format(target=TARGET_YAML)), env=target_env(sandbox))
    assert res.code == 1, res.err
    report = _results(tmp_path / "results.json")
    assert _calls(report, "sync") == [("onboard item 1", "ok"), ("onboard item 2", "failed"),
                                      ("onboard item 3", "ok")]
    welcome = next(s for s in report["steps"] if s["id"] == "welcome")
    assert [c["status"] for c in welcome["calls"]] == ["ok", "skipped", "ok"]
    assert welcome["calls"][1]["fault"]["message"] == (
        "not sent: onboard item 2 failed at an earlier step")
    assert welcome["calls"][1]["label"] == "onboard item 2 (leads.csv:3)"
    assert report["max_failures"] == [{"id": "onboard", "kind": "group", "limit": "1",
                                       "total": 3, "allowed": 1, "failed": 1,
                                       "exceeded": False}]
    runs = box.open_store(sandbox.db_path).campaign_runs()
    assert len(runs) == 2 and all(len(r["lead_ids"]) == 1 for r in runs)


def test_a_call_reading_a_skipped_steps_outputs_is_not_sent_with_made_up_values(
        run_cli, sandbox, tmp_path):
    playbook = "version: 1\nvars: {go: false}\n" + TARGET_YAML + textwrap.dedent("""\
        steps:
          - id: sync
            when: ${vars.go}
            syncLead: {leadRecord: {Email: never@example.com}}
          - id: welcome
            requestCampaign:
              campaignId: 1001
              leadList: [{keyType: IDNUM, keyValue: "${steps.sync.leadId}"}]
        """)
    res = run_cli(_write(tmp_path, playbook), env=target_env(sandbox))
    report = _results(tmp_path / "results.json")
    welcome = report["steps"][1]
    assert welcome["calls"][0]["status"] == "skipped"
    assert "reads the outputs of step sync, which has none" in welcome["calls"][0]["fault"][
        "message"]
    assert box.open_store(sandbox.db_path).campaign_runs() == []  # nothing was requested
    assert res.code == 0  # nothing failed: the skip is reported, not hidden


def test_an_ambiguous_campaign_call_is_never_tolerated(sandbox, tmp_path):
    prepared = _plan(tmp_path, sandbox, """\
        steps:
          - id: welcome
            max_failures: 100%
            loop: [1, 2, 3]
            requestCampaign:
              campaignId: 1001
              leadList: [{keyType: IDNUM, keyValue: "${item}"}]
          - id: after
            getLead: {leadKey: {keyType: EMAIL, keyValue: x@example.com}}
        """)
    # the first call's answer is lost after the sandbox acted: Marketo may have run it
    result = _execute(prepared, Scripted({1: ("after", None)}),
                      Sending(policy=FAST, max_failures=MaxFailures.parse("100%")))
    assert [c.status for c in result.steps[0].calls] == ["ambiguous"]
    assert result.steps[1].status == "skipped"
    assert result.max_failures == []


def test_validate_points_at_a_limit_that_is_not_one(run_cli, tmp_path):
    text = FIVE.format(target="", limit="    max_failures: lots\n")
    res = run_cli("validate", _write(tmp_path, text))
    assert res.code == 2
    assert "p.yml:5:19: steps[0].max_failures" in res.err, res.err
    res = run_cli(_five(tmp_path), "--sandbox", "--max-failures", "half")
    assert res.code == 2 and "--max-failures 'half': write a count (10) or a percentage" in (
        res.err)


def test_resume_keeps_the_limit_and_resends_only_what_failed(run_cli, tmp_path):
    res = run_cli(_five(tmp_path), "--sandbox", "--max-failures", "3")
    assert res.code == 1
    run_id = json.loads((tmp_path / "results.json").read_text())["run_id"]
    header = journal.read(tmp_path / ".mktows" / "runs" / run_id).header
    options = RunOptions.from_json(header["request"])
    assert options.sending.max_failures == MaxFailures.parse("3")
    again = run_cli("resume", run_id)
    assert again.code == 1
    report = _results(tmp_path / "results.json")
    sync = next(s for s in report["steps"] if s["id"] == "sync")
    assert [(c["status"], c["resumed"]) for c in sync["calls"]] == [
        ("ok", True), ("failed", False), ("ok", True), ("failed", False), ("ok", True)]
    assert _calls(report, "after") == [("", "ok")]  # tolerated again: the run went on


def test_the_summary_lists_every_failed_item_past_the_first_ten():
    step = StepResult("import", "syncLead", "ok", 4)
    for n in range(1, 101):
        bad = n % 4 == 0  # 25 failed items
        step.add(CallResult(f"import/item-{n}", f"item {n} (leads.csv:{n + 1})",
                            "failed" if bad else "ok", 1, 0.01, {},
                            20103 if bad else None, f"no lead {n}" if bad else None,
                            "fault" if bad else None))
    result = RunResult("p.yml", "2026-03-01T10:00:00+01:00", steps=[step], max_failures=[
        Tolerance("import", "step", "30%", 100, 30, 25)])
    text = markdown_writer.render(result, Redactor())
    failures = text[text.index("#### Failures"):text.index("#### Steps")]
    assert all(f"item {n} (leads.csv:{n + 1}): fault 20103: no lead {n}" in failures
               for n in range(4, 101, 4))
    assert "<details><summary>15 more failed calls of import</summary>" in failures
    assert "step import: 25 of 100 calls failed (max\\_failures 30%: 30 allowed); the run " \
           "went on" in text
