"""Loops, batching, groups, conditions and variable precedence, end to end on the sandbox."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from runner import sandbox as box
from runner.resources import wsdl_path
from runner.soap import xsd
from runner.soap.namespaces import SOAP_ENV
from tests.conftest import ROOT, TARGET_YAML, target_env

HEAD = "version: 1\n" + TARGET_YAML


def _write(tmp_path: Path, body: str, name: str = "p.yml") -> str:
    (tmp_path / name).write_text(HEAD + textwrap.dedent(body))
    return name


def _emails(n: int) -> list[str]:
    return [f"lead{i}@example.com" for i in range(n)]


def _csv(tmp_path: Path, n: int) -> None:
    rows = ["Email,FirstName"] + [f"{e},F{i}" for i, e in enumerate(_emails(n))]
    (tmp_path / "leads.csv").write_text("\n".join(rows) + "\n")


BULK = """\
vars: {program: Welcome Program}
steps:
  - id: import
    loop: {file: leads.csv, columns: [{name: Email, required: true}, {name: FirstName}]}
    syncMultipleLeads:
      leadRecordList:
        - Email: ${item.Email}
          leadAttributeList: {FirstName: "${item.FirstName}"}
  - id: welcome
    loop: {file: leads.csv}
    requestCampaign:
      programName: ${vars.program}
      campaignName: Welcome Email
      leadList: [{keyType: EMAIL, keyValue: "${item.Email}"}]
"""


def test_a_loop_is_batched_by_the_runner_within_marketos_limits(run_cli, sandbox, tmp_path):
    _csv(tmp_path, 650)
    res = run_cli(_write(tmp_path, BULK), env=target_env(sandbox))
    assert res.code == 0, res.err
    report = json.loads((tmp_path / "results.json").read_text())
    calls = {s["id"]: s["calls"] for s in report["steps"]}
    assert [c["label"] for c in calls["import"]] == ["batch 1/3", "batch 2/3", "batch 3/3"]
    assert len(calls["welcome"]) == 7  # 650 keys, 100 a call
    store = box.open_store(sandbox.db_path)
    assert sorted(lead["email"] for lead in store.leads()) == sorted(_emails(650))
    runs = store.campaign_runs()
    assert [len(r["lead_ids"]) for r in runs] == [100] * 6 + [50]
    assert all(not r.get("ignored_keys") for r in runs)  # never relies on Marketo's truncation
    assert len({i for r in runs for i in r["lead_ids"]}) == 650


def test_a_long_inline_lead_list_is_split_without_a_loop(run_cli, sandbox, tmp_path):
    _csv(tmp_path, 150)
    keys = "\n".join(f"        - {{keyType: EMAIL, keyValue: {e}}}" for e in _emails(150))
    body = BULK.split("  - id: welcome")[0] + (
        "  - id: welcome\n    requestCampaign:\n      campaignId: 1001\n      leadList:\n" + keys + "\n")
    res = run_cli(_write(tmp_path, body), env=target_env(sandbox))
    assert res.code == 0, res.err
    assert [len(r["lead_ids"]) for r in box.open_store(sandbox.db_path).campaign_runs()] == [100, 50]


def test_a_group_loop_feeds_each_items_outputs_to_its_later_steps(run_cli, sandbox, tmp_path):
    res = run_cli(_write(tmp_path, """\
        steps:
          - id: onboard
            loop: [ada@example.com, grace@example.com]
            steps:
              - id: sync
                syncLead: {leadRecord: {Email: "${item}"}}
              - id: request
                requestCampaign:
                  campaignId: 1001
                  leadList: [{keyType: IDNUM, keyValue: "${steps.sync.leadId}"}]
        """), env=target_env(sandbox))
    assert res.code == 0, res.err
    store = box.open_store(sandbox.db_path)
    ids = {lead["email"]: lead["id"] for lead in store.leads()}
    assert [r["lead_ids"] for r in store.campaign_runs()] == [[ids["ada@example.com"]],
                                                            [ids["grace@example.com"]]]


def test_when_skips_a_step_and_reads_earlier_outputs(run_cli, sandbox, tmp_path):
    res = run_cli(_write(tmp_path, """\
        vars: {env: staging}
        steps:
          - id: sync
            syncLead: {leadRecord: {Email: when@example.com}}
          - id: only-prod
            when: ${vars.env} == 'prod'
            scheduleCampaign: {programName: Welcome Program, campaignName: Welcome Batch}
          - id: if-created
            when: ${steps.sync.status} in ['CREATED'] and not ${vars.env} == 'prod'
            requestCampaign:
              campaignId: 1001
              leadList: [{keyType: IDNUM, keyValue: "${steps.sync.leadId}"}]
        """), env=target_env(sandbox))
    assert res.code == 0, res.err
    report = json.loads((tmp_path / "results.json").read_text())
    assert [s["status"] for s in report["steps"]] == ["ok", "skipped", "ok"]
    assert [r["kind"] for r in box.open_store(sandbox.db_path).campaign_runs()] == ["request"]


@pytest.mark.parametrize(("name", "text"), [
    ("items.csv", "Email,Count\na@example.com,1\nb@example.com,2\n"),
    ("items.json", '[{"Email": "a@example.com", "Count": 1}, {"Email": "b@example.com", "Count": 2}]'),
    ("items.jsonl", '{"Email": "a@example.com", "Count": 1}\n{"Email": "b@example.com", "Count": "2"}\n'),
    ("items.yaml", "- {Email: a@example.com, Count: 1}\n- Email: b@example.com\n  Count: 2\n"),
])
def test_every_data_format_gives_the_same_typed_items(run_cli, tmp_path, name, text):
    (tmp_path / name).write_text(text)
    _write(tmp_path, f"""\
        steps:
          - id: get
            loop: {{file: {name}, columns: [{{name: Email, required: true}}, {{name: Count, type: integer}}]}}
            getLead: {{leadKey: {{keyType: EMAIL, keyValue: "${{item.Email}}"}}}}
          - id: tag
            loop: {{file: {name}, columns: [{{name: Email}}, {{name: Count, type: integer}}]}}
            when: ${{item.Count}} == 2
            getLead: {{leadKey: {{keyType: EMAIL, keyValue: "${{item.Email}}"}}}}
        """)
    res = run_cli("plan", "p.yml")
    assert res.code == 0, res.err
    assert "EMAIL=a@example.com" in res.out and "EMAIL=b@example.com" in res.out
    assert "3 calls" in res.out  # the condition compares the converted integer


def test_a_bad_row_is_reported_at_its_file_line_before_anything_is_sent(run_cli, sandbox,
                                                                       tmp_path):
    _csv(tmp_path, 20)
    text = (tmp_path / "leads.csv").read_text().splitlines()
    text[16] = ",NoEmail"
    (tmp_path / "leads.csv").write_text("\n".join(text) + "\n")
    res = run_cli(_write(tmp_path, BULK), env=target_env(sandbox))
    assert res.code == 2
    assert "leads.csv:17: Email is empty" in res.err
    assert box.open_store(sandbox.db_path).request_count() == 0


def test_plan_lists_calls_quota_and_run_time_values_and_writes_valid_envelopes(run_cli,
                                                                             tmp_path):
    _csv(tmp_path, 250)
    _write(tmp_path, BULK + """\
  - id: one
    syncLead: {leadRecord: {Email: x@example.com}}
  - id: after
    requestCampaign:
      campaignId: 1001
      leadList: [{keyType: IDNUM, keyValue: "${steps.one.leadId}"}]
""")
    res = run_cli("plan", "p.yml", "--envelopes", "env", "--markdown", "plan.md")
    assert res.code == 0, res.err
    assert "6 calls, 0.06% of the daily quota of 10,000" in res.out
    assert "values known after step one" in res.out
    assert "| **:warning: requestCampaign** | 3 | 250 |" in (tmp_path / "plan.md").read_text()
    schema = xsd.load(str(wsdl_path()))
    files = sorted((tmp_path / "env").glob("*.xml"))
    assert len(files) == 6
    for path in files:
        root = ET.parse(path).getroot()
        body = root.find(f"{{{SOAP_ENV}}}Body")[0]
        element = body.tag.split("}")[1]
        assert schema.errors(element, body) == [], path.name
        auth = root.find(f"{{{SOAP_ENV}}}Header")[0]
        assert auth.findtext("requestSignature") == "***"


def test_variable_precedence_cli_over_files_over_playbook(run_cli, tmp_path):
    (tmp_path / "a.yml").write_text("email: file-a@example.com\ncount: 5\n")
    (tmp_path / "b.yml").write_text("email: file-b@example.com\n")
    _write(tmp_path, """\
        vars: {email: playbook@example.com, count: 1, flag: false}
        steps:
          - id: get
            when: ${vars.flag} == false and ${vars.count} == 7
            getLead: {leadKey: {keyType: EMAIL, keyValue: "${vars.email}"}}
        """)
    res = run_cli("plan", "p.yml", "--vars-file", "a.yml", "--vars-file", "b.yml")
    assert "EMAIL=" not in res.out  # count is 5 from a.yml: the condition is false
    res = run_cli("plan", "p.yml", "--vars-file", "a.yml", "--vars-file", "b.yml",
                  "--var", "count=7")
    assert "EMAIL=file-b@example.com" in res.out
    res = run_cli("plan", "p.yml", "--var", "count=seven")
    assert res.code == 2 and "count is an integer" in res.err
    res = run_cli("plan", "p.yml", "--var", "MKTOWS_ENCRYPTION_KEY=x")
    assert res.code == 2 and "secrets cannot be set on the command line" in res.err


def test_secrets_come_from_a_secrets_file_and_are_never_printed(run_cli, sandbox, tmp_path):
    (tmp_path / "secrets.env").write_text(f"MKTOWS_ENCRYPTION_KEY={sandbox.encryption_key}\n"
                                          "TOKEN_VALUE=hush-hush-123\n")
    _write(tmp_path, """\
        steps:
          - id: sync
            syncLead:
              leadRecord: {Email: s@example.com, leadAttributeList: {Title: "${secret.TOKEN_VALUE}"}}
              returnLead: true
        """)
    env = {"MKTOWS_ENDPOINT": sandbox.endpoint, "MKTOWS_USER_ID": sandbox.user_id}
    res = run_cli("p.yml", "--secrets-file", "secrets.env", env=env)
    assert res.code == 0, res.err
    assert box.open_store(sandbox.db_path).leads()[0]["attributes"]["Title"] == "hush-hush-123"
    written = (tmp_path / "results.json").read_text() + res.out + res.err
    assert "hush-hush-123" not in written
    assert sandbox.encryption_key not in written


def test_every_example_playbook_plans_without_problems(run_cli):
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        res = run_cli("plan", str(path))
        assert res.code == 0, (path, res.err)


def test_a_variable_defined_through_the_item_is_resolved_for_every_item(run_cli, tmp_path):
    # The rest of a batched call (here programName) is resolved once per loop only when it
    # reads nothing that differs between items; a variable defined through ${item...} does.
    rows = ["Email,Program"] + [f"lead{i}@example.com,P{i % 2}" for i in range(4)]
    (tmp_path / "leads.csv").write_text("\n".join(rows) + "\n")
    _write(tmp_path, """\
vars: {program: "${item.Program}"}
steps:
  - id: welcome
    loop: {file: leads.csv}
    requestCampaign:
      programName: ${vars.program}
      campaignName: Welcome Email
      leadList: [{keyType: EMAIL, keyValue: "${item.Email}"}]
""")
    res = run_cli("plan", "p.yml", "--envelopes", "env")
    assert res.code == 0, res.err
    sent: dict[str, list[str]] = {}
    for path in sorted((tmp_path / "env").glob("*.xml")):
        root = ET.parse(path).getroot()
        params = root.find(f"{{{SOAP_ENV}}}Body")[0]
        keys = [k.findtext("keyValue") for k in params.iter("leadKey")]
        sent.setdefault(params.findtext("programName"), []).extend(keys)
    assert sent == {"P0": ["lead0@example.com", "lead2@example.com"],
                    "P1": ["lead1@example.com", "lead3@example.com"]}
