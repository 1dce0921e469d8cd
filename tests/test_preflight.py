"""Preflight reads before anything is written: every campaign a playbook requests or schedules,
every workspace (REST: partition) and every lead field it writes (REST: Describe) is checked
with read-only calls; all problems come in one pass, located, exit 2, and the sandbox saw
reads only. Over SOAP and over REST, and at a cost that does not grow with the items."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from runner import sandbox as box
from tests.conftest import TARGET_YAML, target_env

WRITES = ("syncLead", "syncMultipleLeads", "requestCampaign", "scheduleCampaign",
          "rest.syncLeads", "rest.triggerCampaign", "rest.scheduleCampaign")

BROKEN = """\
steps:
  - id: sync
    syncLead: {leadRecord: {Email: pre@example.com, leadAttributeList: {FirstName: Ada}}}
  - id: missing
    requestCampaign:
      programName: Welcome Program
      campaignName: Welcome Emial
      leadList: [{keyType: IDNUM, keyValue: "${steps.sync.leadId}"}]
  - id: batch-requested
    requestCampaign:
      programName: Welcome Program
      campaignName: Welcome Batch
      leadList: [{keyType: IDNUM, keyValue: "${steps.sync.leadId}"}]
  - id: trigger-scheduled
    scheduleCampaign: {programName: Welcome Program, campaignName: Welcome Email}
"""
REST_ONLY = """\
  - id: workspace
    syncLead:
      leadRecord: {Email: ws@example.com}
      targetWorkspace: Europa
  - id: field
    syncLead: {leadRecord: {Email: f@example.com, leadAttributeList: {FavouriteColour: red}}}
"""


def _write(tmp_path: Path, steps: str) -> str:
    (tmp_path / "p.yml").write_text("version: 1\nname: Preflight\n" + TARGET_YAML + steps)
    return "p.yml"


def _methods(db: Path) -> list[str]:
    return [r["operation"] for r in box.open_store(db).requests()]


def test_soap_every_campaign_problem_in_one_pass_and_nothing_written(run_cli, sandbox, tmp_path):
    res = run_cli(_write(tmp_path, BROKEN), env=target_env(sandbox))
    assert res.code == 2, res.out + res.err
    err = res.err
    assert "p.yml:13:21: campaign 'Welcome Emial' (program 'Welcome Program') cannot be " \
           "requested" in err
    assert "did you mean 'Welcome Email'" in err
    assert "p.yml:18:21: campaign 'Welcome Batch' (program 'Welcome Program') cannot be " \
           "requested" in err
    assert "p.yml:21:68: campaign 'Welcome Email' (program 'Welcome Program') is a trigger " \
           "campaign; scheduleCampaign runs batch campaigns" in err
    assert _methods(sandbox.db_path) == ["getCampaignsForSource"]  # one read, no write
    assert not (tmp_path / "results.json").exists()
    assert not list((tmp_path / ".mktows").rglob("journal.jsonl"))  # no run was started


def test_rest_every_problem_in_one_pass_and_only_reads_reach_the_sandbox(run_cli, tmp_path):
    res = run_cli(_write(tmp_path, BROKEN + REST_ONLY), "--sandbox", "--api", "rest",
                  "--sandbox-db", str(tmp_path / "box.db"))
    methods = _methods(tmp_path / "box.db")
    assert res.code == 2, res.out + res.err
    err = res.err
    assert "campaign 'Welcome Emial' in program 'Welcome Program' not found" in err
    assert "did you mean 'Welcome Email'" in err
    assert ("campaign 'Welcome Batch' in program 'Welcome Program' is a batch campaign; "
            "requestCampaign runs trigger campaigns") in err
    assert ("campaign 'Welcome Email' in program 'Welcome Program' is a trigger campaign; "
            "scheduleCampaign runs batch campaigns") in err
    assert "Europa" in err and "FavouriteColour" in err
    assert not [m for m in methods if m in WRITES], methods


def test_a_correct_playbook_says_what_preflight_established(run_cli, sandbox, tmp_path):
    res = run_cli(str(Path(__file__).parent.parent / "playbooks" / "welcome.yml"), "--sandbox",
                  "--api", "rest")
    assert res.code == 0, res.err
    assert "preflight: 2 read(s): 2 campaign(s) exist and are of the right kind; 4 lead " \
           "field(s) exist and are writable" in res.err


def test_no_preflight_skips_it_with_a_warning_and_the_write_fails_later(run_cli, sandbox,
                                                                       tmp_path):
    res = run_cli(_write(tmp_path, BROKEN), "--no-preflight", env=target_env(sandbox))
    assert res.code == 1
    assert "warning: preflight skipped" in res.err
    assert "syncLead" in _methods(sandbox.db_path)  # the first step wrote before the failure


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_plan_preflight_reports_the_problems_and_writes_nothing(run_cli, tmp_path, api):
    _write(tmp_path, BROKEN)
    res = run_cli("plan", "p.yml", "--preflight", "--sandbox", "--api", api,
                  "--sandbox-db", str(tmp_path / "box.db"))
    assert res.code == 2, res.out + res.err
    assert "Welcome Emial" in res.err
    assert not [m for m in _methods(tmp_path / "box.db") if m in WRITES]


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_preflight_costs_the_same_few_reads_for_ten_or_ten_thousand_items(run_cli, tmp_path,
                                                                          api):
    reads = []
    for n in (10, 10_000):
        (tmp_path / "leads.csv").write_text("Email\n" + "".join(
            f"l{i}@example.com\n" for i in range(n)))
        _write(tmp_path, textwrap.dedent("""\
            steps:
              - id: each
                loop: {file: leads.csv, columns: [{name: Email}]}
                requestCampaign:
                  programName: Welcome Program
                  campaignName: Welcome Email
                  leadList: [{keyType: EMAIL, keyValue: "${item.Email}"}]
            """))
        res = run_cli("plan", "p.yml", "--preflight", "--sandbox", "--api", api,
                      "--sandbox-db", str(tmp_path / f"box-{n}.db"))
        assert res.code == 0, res.err
        line = next(x for x in res.out.splitlines() if x.startswith("preflight: "))
        reads.append((line, len(_methods(tmp_path / f"box-{n}.db"))))
    assert reads[0] == reads[1], reads
    assert reads[0][1] <= 2  # one campaign read (SOAP: the requestable list; REST: its program)
    print(json.dumps(reads))


def test_what_preflight_established_is_in_results_json_and_the_markdown(run_cli, sandbox,
                                                                        tmp_path):
    res = run_cli(str(Path(__file__).parent.parent / "playbooks" / "welcome.yml"), "--sandbox",
                  "--markdown", "summary.md")
    assert res.code == 0, res.err
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["preflight"].startswith("preflight: 1 read(s): 1 requested campaign(s)")
    assert report["preflight"] in (tmp_path / "summary.md").read_text()
    assert run_cli("report", "results.json", "--markdown", "again.md").code == 0
    assert report["preflight"] in (tmp_path / "again.md").read_text()


def test_preflight_reads_are_paced_with_the_calls(run_cli, tmp_path):
    from runner.sandbox.config import SandboxConfig

    # 2 requests per 2 s: preflight's read and the 3 calls must share the windows, or the
    # sandbox answers 20023 (Marketo's rate fault) to one of them.
    config = SandboxConfig(rate_limit_calls=2, rate_limit_window=2.0)
    with box.running(tmp_path / "box.db", config=config, strict=True) as info:
        res = run_cli(str(Path(__file__).parent.parent / "playbooks" / "welcome.yml"),
                      "--rate", "2/2s", env=target_env(info))
        requests = box.open_store(info.db_path).requests()
    assert res.code == 0, res.out + res.err
    assert requests[0]["operation"] == "getCampaignsForSource"
    assert [r["fault_code"] for r in requests if r["fault_code"]] == []
