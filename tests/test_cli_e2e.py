"""End to end through the real CLI and the real sandbox over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from runner import sandbox as box
from tests.conftest import ROOT, target_env

WELCOME = ROOT / "playbooks" / "welcome.yml"


def _results(path: Path) -> dict:
    data = json.loads(path.read_text())
    schema = json.loads((ROOT / "schemas" / "results.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    return data


def test_welcome_runs_green_on_the_embedded_sandbox(run_cli, tmp_path):
    res = run_cli(str(WELCOME), "--sandbox")
    assert res.code == 0, res.err + res.out
    assert "sandbox: http://127.0.0.1:" in res.err
    report = _results(tmp_path / "results.json")
    assert report["format_version"] == 1
    assert report["status"] == "ok"
    assert [(s["id"], s["operation"], s["status"]) for s in report["steps"]] == [
        ("sync", "syncLead", "ok"),
        ("welcome-email", "requestCampaign", "ok"),
        ("weekly-batch", "scheduleCampaign", "ok"),
    ]
    assert report["steps"][0]["outputs"]["status"] == "CREATED"
    lead_id = report["steps"][0]["outputs"]["leadId"]

    store = box.open_store(tmp_path / ".mktows" / "sandbox.db")
    leads = store.leads()
    assert len(leads) == 1
    assert leads[0]["id"] == lead_id
    assert leads[0]["email"] == "ada.lovelace@example.com"
    assert leads[0]["attributes"]["Country"] == "NO"
    assert leads[0]["attributes"]["Company"] == "Analytical Engines Ltd"
    runs = store.campaign_runs()
    request = next(r for r in runs if r["kind"] == "request")
    assert request["lead_ids"] == [lead_id]
    schedule = next(r for r in runs if r["kind"] == "schedule")
    assert schedule["tokens"] == {"{{my.message}}": "Welcome aboard, Ada!"}


def test_a_second_run_updates_the_same_lead(run_cli, tmp_path):
    assert run_cli(str(WELCOME), "--sandbox").code == 0
    assert run_cli(str(WELCOME), "--sandbox", "--var", "email=ada.lovelace@example.com").code == 0
    report = _results(tmp_path / "results.json")
    assert report["steps"][0]["outputs"]["status"] == "UPDATED"
    assert len(box.open_store(tmp_path / ".mktows" / "sandbox.db").leads()) == 1


def test_a_playbook_target_from_the_environment_reaches_a_running_sandbox(run_cli, sandbox):
    res = run_cli(str(WELCOME), env=target_env(sandbox))
    assert res.code == 0, res.err


def test_a_wrong_encryption_key_fails_the_step_with_fault_20014(run_cli, sandbox, tmp_path):
    wrong = "not-the-sandbox-key-0123456789"
    # (without preflight: the step's own call meets the fault; with it, see the next test)
    res = run_cli(str(WELCOME), "--report", "out/r.json", "--no-preflight",
                  env=target_env(sandbox, wrong))
    assert res.code == 1
    report = _results(tmp_path / "out" / "r.json")
    first = report["steps"][0]
    assert first["status"] == "failed"
    assert first["fault"]["code"] == 20014
    assert [s["status"] for s in report["steps"][1:]] == ["skipped", "skipped"]
    everything = res.out + res.err + (tmp_path / "out" / "r.json").read_text()
    assert wrong not in everything


def test_a_wrong_encryption_key_stops_at_preflight_with_nothing_written(run_cli, sandbox,
                                                                       tmp_path):
    wrong = "not-the-sandbox-key-0123456789"
    res = run_cli(str(WELCOME), env=target_env(sandbox, wrong))
    assert res.code == 1
    assert "preflight could not read from Marketo (fault 20014" in res.err
    assert "Traceback" not in res.err and wrong not in res.out + res.err
    writes = [r for r in box.open_store(sandbox.db_path).requests()
              if r["operation"] != "getCampaignsForSource"]
    assert writes == []


@pytest.mark.parametrize(("name", "expected"), [
    ("typo_operation.yml", ["typo_operation.yml:10:5: steps[1].requestCampaing: unknown key",
                            "did you mean 'requestCampaign'?"]),
    ("wrong_type.yml", ["wrong_type.yml:10:19: steps[0].syncLead.returnLead: 'sure' is not "
                        "of type 'boolean'"]),
    ("unknown_var.yml", ["unknown_var.yml:11:16: steps[0].syncLead.leadRecord.Email: unknown "
                         "variable 'vars.emial'", "did you mean 'email'?"]),
])
def test_an_invalid_playbook_exits_2_located_and_sends_nothing(run_cli, sandbox, tmp_path,
                                                               name, expected):
    shutil.copy(ROOT / "tests" / "data" / "playbooks" / name, tmp_path / name)
    res = run_cli(name, env=target_env(sandbox))
    assert res.code == 2
    for text in expected:
        assert text in res.err
    assert "Traceback" not in res.err + res.out
    assert "nothing was sent" in res.err
    assert box.open_store(sandbox.db_path).request_count() == 0
    assert not (tmp_path / "results.json").exists()


def test_validate_accepts_every_example_playbook(run_cli):
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        res = run_cli("validate", str(path))
        assert res.code == 0, res.err


def test_usage_errors_exit_2_without_traceback(run_cli):
    res = run_cli("run", "does-not-exist.yml")
    assert res.code == 2
    assert "Traceback" not in res.err
    res = run_cli(str(WELCOME), "--var", "novalue")
    assert res.code == 2 and "NAME=VALUE" in res.err


def test_schema_command_prints_the_validators_own_schema(run_cli):
    res = run_cli("schema")
    assert res.code == 0
    assert json.loads(res.out) == json.loads((ROOT / "schemas" / "playbook.schema.json").read_text())


def test_plain_http_to_a_remote_host_is_refused_before_anything_is_sent(run_cli, tmp_path):
    env = {"MKTOWS_ENDPOINT": "http://mktows.example.com/soap/mktows/3_1",
           "MKTOWS_USER_ID": "user", "MKTOWS_ENCRYPTION_KEY": "not-a-real-key-123"}
    res = run_cli(str(WELCOME), env=env)
    assert res.code == 2
    assert "refusing plain http:// to mktows.example.com" in res.err
    assert "--allow-insecure-http" in res.err
    assert not (tmp_path / "results.json").exists()
