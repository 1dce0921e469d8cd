"""Plans a reviewer can trust: planned without secrets, saved without secrets, applied exactly
(or refused, saying what changed, with nothing sent), and a Markdown a pull request shows
(checked in as a golden file)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from runner import sandbox as box
from tests.conftest import ROOT, TARGET_YAML

CANARY = "cnry-PlanSecret-4d5e6f"
GOLDEN = ROOT / "tests" / "data" / "golden" / "import-leads.plan.md"

PLAYBOOK = "version: 1\nname: Plan and apply\n" + TARGET_YAML + textwrap.dedent("""\
    vars:
      title: Engineer
    steps:
      - id: import
        loop: {file: leads.csv, columns: [{name: Email, required: true}]}
        syncMultipleLeads:
          leadRecordList:
            - Email: ${item.Email}
              leadAttributeList: {Title: "${vars.title}", Company: "${secret.API_NOTE}"}
      - id: welcome
        loop: {file: leads.csv, columns: [{name: Email, required: true}]}
        requestCampaign:
          programName: Welcome Program
          campaignName: Welcome Email
          leadList:
            - {keyType: EMAIL, keyValue: "${item.Email}"}
    """)


def _book(tmp_path: Path, rows: int = 5) -> None:
    (tmp_path / "p.yml").write_text(PLAYBOOK)
    (tmp_path / "leads.csv").write_text("Email\n" + "".join(
        f"plan{i}@example.com\n" for i in range(rows)))


def _requests(db: Path) -> list[str]:
    return [r["operation"] for r in box.open_store(db).requests()] if db.exists() else []


def test_plan_needs_no_secret_and_a_saved_plan_holds_none(run_cli, tmp_path, monkeypatch):
    _book(tmp_path)
    for name in ("API_NOTE", "MKTOWS_ENCRYPTION_KEY", "MKTOWS_ENDPOINT", "MKTOWS_USER_ID"):
        monkeypatch.delenv(name, raising=False)
    res = run_cli("plan", "p.yml", "--out", "p.mkplan", "--markdown", "plan.md")
    assert res.code == 0, res.err
    assert "Company=" not in res.out  # (the summary shows keys only; the secret is opaque)
    res = run_cli("validate", "p.yml")
    assert res.code == 0, res.err
    # With the secret set, the saved plan still never holds it.
    monkeypatch.setenv("API_NOTE", CANARY)
    res = run_cli("plan", "p.yml", "--out", "p2.mkplan", "--envelopes", "env")
    assert res.code == 0, res.err
    for path in [tmp_path / "p.mkplan", tmp_path / "p2.mkplan", tmp_path / "plan.md",
                 *(tmp_path / "env").iterdir()]:
        assert CANARY not in path.read_text(), path
    assert CANARY not in res.out + res.err


def test_apply_sends_exactly_the_planned_calls(run_cli, tmp_path, monkeypatch):
    _book(tmp_path, rows=450)  # 2 batches of syncMultipleLeads, then 5 requestCampaign calls
    monkeypatch.setenv("API_NOTE", CANARY)
    db = tmp_path / "box.db"
    res = run_cli("plan", "p.yml", "--sandbox", "--sandbox-db", str(db), "--out", "p.mkplan")
    assert res.code == 0, res.err
    saved = json.loads((tmp_path / "p.mkplan").read_text())
    planned = {step: info["calls"] for step, info in saved["steps"].items()}
    assert planned == {"import": 2, "welcome": 5}
    res = run_cli("apply", "p.mkplan")
    assert res.code == 0, res.out + res.err
    sent = _requests(db)
    writes = [op for op in sent if op != "getCampaignsForSource"]  # (preflight's read)
    assert writes == ["syncMultipleLeads"] * 2 + ["requestCampaign"] * 5
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["status"] == "ok"


@pytest.mark.parametrize(("change", "reason"), [
    (lambda p: (p / "p.yml").write_text(PLAYBOOK.replace("Welcome Email", "Welcome Batch")),
     "the playbook changed"),
    (lambda p: (p / "leads.csv").write_text("Email\nother@example.com\n"),
     "data file leads.csv changed"),
    (lambda p: (p / "p.yml").write_text(PLAYBOOK.replace("Engineer", "Manager")),
     "the vars changed"),
])
def test_apply_refuses_a_plan_whose_inputs_changed_and_sends_nothing(run_cli, tmp_path,
                                                                      monkeypatch, change,
                                                                      reason):
    _book(tmp_path)
    monkeypatch.setenv("API_NOTE", CANARY)
    db = tmp_path / "box.db"
    assert run_cli("plan", "p.yml", "--sandbox", "--sandbox-db", str(db),
                   "--out", "p.mkplan").code == 0
    change(tmp_path)
    res = run_cli("apply", "p.mkplan")
    assert res.code == 2, res.out + res.err
    assert "no longer describes this run" in res.err and reason in res.err
    assert _requests(db) == []


def test_apply_refuses_a_plan_older_than_max_age(run_cli, tmp_path, monkeypatch):
    _book(tmp_path)
    monkeypatch.setenv("API_NOTE", CANARY)
    assert run_cli("plan", "p.yml", "--sandbox", "--sandbox-db", str(tmp_path / "box.db"),
                   "--out", "p.mkplan").code == 0
    saved = json.loads((tmp_path / "p.mkplan").read_text())
    saved["created_at"] = "2020-01-01T00:00:00+00:00"
    (tmp_path / "p.mkplan").write_text(json.dumps(saved))
    res = run_cli("apply", "p.mkplan")
    assert res.code == 2 and "h old (apply accepts 24 h" in res.err, res.err


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"format": "mktows-run plan"}',
                                  '{"format": "mktows-run plan", "version": 99, "options": {},'
                                  ' "steps": {}, "inputs": {}}', "[" * 100_000, "\udcff"])
def test_a_damaged_plan_file_is_refused_cleanly(run_cli, tmp_path, text):
    (tmp_path / "bad.mkplan").write_bytes(text.encode("utf-8", "surrogateescape"))
    res = run_cli("apply", "bad.mkplan")
    assert res.code == 2 and "Traceback" not in res.err, res.err
    assert "saved plan" in res.err


def test_the_markdown_plan_of_import_leads_matches_the_golden_file(run_cli, tmp_path):
    res = run_cli("plan", str(ROOT / "playbooks" / "import-leads.yml"), "--markdown", "plan.md")
    assert res.code == 0, res.err
    text = (tmp_path / "plan.md").read_text().replace(str(ROOT), "<repo>")
    text = text.replace(str(ROOT / "playbooks" / "import-leads.yml"), "<playbook>")
    assert text == GOLDEN.read_text(), text


READABLE = "version: 1\nname: Readable\n" + TARGET_YAML + textwrap.dedent("""\
    vars:
      send: false
    steps:
      - id: sync
        name: Create the lead
        syncLead: {leadRecord: {Email: r@example.com}}
      - id: welcome
        requestCampaign:
          campaignId: 1001
          leadList: [{keyType: IDNUM, keyValue: "${steps.sync.leadId}"}]
      - id: later
        when: ${vars.send} == true
        scheduleCampaign: {programName: Welcome Program, campaignName: Welcome Batch}
    """)


def test_a_plan_reads_in_words_marks_campaigns_skips_and_run_time_values(run_cli, tmp_path):
    (tmp_path / "p.yml").write_text(READABLE)
    res = run_cli("plan", "p.yml", "--envelopes", "env", "--markdown", "plan.md")
    assert res.code == 0, res.err
    sync = next(line for line in res.out.splitlines() if line.split()[:1] == ["sync"])
    assert "Create the lead: insert or update one lead" in sync
    welcome = next(line for line in res.out.splitlines() if line.split()[:1] == ["welcome"])
    assert "CAMPAIGN" in welcome
    later = next(line for line in res.out.splitlines() if line.split()[:1] == ["later"])
    assert "skipped (when: ${vars.send} == true is false)" in later
    assert "Target: the playbook's target (${env.MKTOWS_ENDPOINT}), over SOAP" in res.out
    assert "values known after step sync" in res.out
    envelope = next((tmp_path / "env").glob("*welcome*")).read_text()
    assert "<keyValue>(known after step sync)</keyValue>" in envelope  # never a sample id
    md = (tmp_path / "plan.md").read_text()
    assert "**:warning: requestCampaign**" in md and "1 campaign call(s)" in md


def test_plan_honours_selection_and_prints_json_for_machines(run_cli, tmp_path):
    (tmp_path / "p.yml").write_text(READABLE)
    res = run_cli("plan", "p.yml", "--format", "json", "--skip", "welcome")
    assert res.code == 0, res.err
    plan = json.loads(res.out)
    steps = {s["id"]: s for s in plan["steps"]}
    assert steps["sync"]["calls"] == 1 and steps["welcome"]["calls"] == 0
    assert steps["welcome"]["skipped"] == ["not selected"] and steps["welcome"]["campaign"]
    assert plan["calls"] == 1 and plan["api"] == "soap"
    res = run_cli("plan", "p.yml", "--only", "nope")
    assert res.code == 2 and "--only nope" in res.err


def test_a_saved_plan_is_applied_once_unless_it_was_refused_before_any_write(run_cli, tmp_path,
                                                                             monkeypatch):
    _book(tmp_path)
    monkeypatch.setenv("API_NOTE", CANARY)
    db = tmp_path / "box.db"
    assert run_cli("plan", "p.yml", "--sandbox", "--sandbox-db", str(db),
                   "--out", "p.mkplan").code == 0
    assert run_cli("apply", "p.mkplan").code == 0
    sent = len(_requests(db))
    again = run_cli("apply", "p.mkplan")
    assert again.code == 2 and "was already applied" in again.err, again.err
    assert len(_requests(db)) == sent  # the campaign calls were not sent twice


def test_a_plan_refused_by_preflight_can_be_applied_after_the_fix(run_cli, tmp_path,
                                                                  monkeypatch):
    (tmp_path / "p.yml").write_text(PLAYBOOK.replace("Welcome Email", "Welcome Emial"))
    (tmp_path / "leads.csv").write_text("Email\na@example.com\n")
    monkeypatch.setenv("API_NOTE", CANARY)
    assert run_cli("plan", "p.yml", "--sandbox", "--sandbox-db", str(tmp_path / "box.db"),
                   "--out", "p.mkplan").code == 0
    first = run_cli("apply", "p.mkplan")
    assert first.code == 2 and "Welcome Emial" in first.err  # preflight: nothing written
    second = run_cli("apply", "p.mkplan")
    assert second.code == 2 and "already applied" not in second.err  # not claimed
