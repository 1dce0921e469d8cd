"""The command line refuses what it cannot honour, and outcomes are never greener than the truth:
flags naming nothing, rates that would switch pacing off, ranges named by their option, a plan
that hides no step however long, the daily quota agreed by validate/plan/run, records that come
back FAILED inside a successful reply, and every data file a run reads shown with its real path.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from runner import sandbox as box
from tests.conftest import TARGET_YAML, target_env


def _write(tmp_path: Path, steps: str, vars_: str = "") -> str:
    (tmp_path / "p.yml").write_text("version: 1\nname: Truth\n" + TARGET_YAML + vars_
                                    + "steps:\n" + textwrap.indent(textwrap.dedent(steps), "  "))
    return "p.yml"


ONE_SYNC = """\
- id: sync
  tags: [leads]
  syncLead: {leadRecord: {Email: "${vars.email}"}}
"""
VARS = "vars:\n  email: ada@example.com\n"


def _sent(info: object) -> int:
    return box.open_store(info.db_path).request_count()  # type: ignore[attr-defined]


# -- flags that name nothing are refused before anything is sent --------------------------------

@pytest.mark.parametrize(("args", "message", "hint"), [
    (("--var", "emial=x@example.com"), "--var emial: the playbook declares no variable 'emial'",
     "did you mean 'email'?"),
    (("--only", "sinc"), "--only sinc: the playbook has no step 'sinc'", "did you mean 'sync'?"),
    (("--skip", "nothing"), "--skip nothing: the playbook has no step 'nothing'", "its steps: sync"),
    (("--tags", "lead"), "--tags lead: the playbook has no tag 'lead'", "did you mean 'leads'?"),
])
def test_a_flag_naming_nothing_in_the_playbook_is_exit_2_with_a_hint(run_cli, sandbox, tmp_path,
                                                                     args, message, hint):
    res = run_cli(_write(tmp_path, ONE_SYNC, VARS), "--sandbox", *args)
    assert res.code == 2, res.err
    assert message in res.err and hint in res.err
    assert "Traceback" not in res.err
    res = run_cli("plan", "p.yml", *args) if args[0] in ("--var",) else res
    assert res.code == 2


def test_validate_and_plan_refuse_an_unknown_var_too(run_cli, tmp_path):
    _write(tmp_path, ONE_SYNC, VARS)
    for command in ("validate", "plan"):
        res = run_cli(command, "p.yml", "--var", "emali=x")
        assert res.code == 2 and "declares no variable 'emali'" in res.err, (command, res.err)


@pytest.mark.parametrize("rate", ["5/-1s", "1/inf", "1/nan", "0/5s", "10/0s", "1/1e400s", "x/2s",
                                  "100/20q"])
def test_a_rate_that_would_switch_pacing_off_or_stall_is_refused(run_cli, sandbox, tmp_path, rate):
    res = run_cli(_write(tmp_path, ONE_SYNC, VARS), "--rate", rate, env=target_env(sandbox))
    assert res.code == 2, res.err
    assert res.err.startswith("error: --rate:"), res.err
    assert _sent(sandbox) == 0


def test_rate_zero_still_means_no_limit(run_cli, sandbox, tmp_path):
    res = run_cli(_write(tmp_path, ONE_SYNC, VARS), "--rate", "0", env=target_env(sandbox))
    assert res.code == 0, res.err


@pytest.mark.parametrize(("args", "option"), [
    (("--concurrency", "11"), "'--concurrency'"),
    (("--concurrency", "0"), "'--concurrency'"),
    (("--retries", "-1"), "'--retries'"),
    (("--limit-items", "0"), "'--limit-items'"),
])
def test_a_range_error_names_its_option(run_cli, tmp_path, args, option):
    res = run_cli(_write(tmp_path, ONE_SYNC, VARS), "--sandbox", *args)
    assert res.code == 2
    assert option in res.err, res.err


def test_sandbox_port_out_of_range_is_a_usage_error(run_cli):
    res = run_cli("sandbox", "--port", "99999")
    assert res.code == 2
    assert "'--port'" in res.err and "Traceback" not in res.err + res.out


@pytest.mark.parametrize("command", [(), ("validate",), ("plan",)])
def test_a_playbook_of_dash_says_stdin_is_not_supported(run_cli, command):
    res = run_cli(*command, "-")
    assert res.code == 2
    assert "reading from stdin is not supported" in res.err


def test_validate_and_plan_accept_a_secrets_file(run_cli, tmp_path):
    _write(tmp_path, ONE_SYNC, VARS)
    (tmp_path / "secrets.env").write_text("MKTOWS_ENCRYPTION_KEY=abcdefgh12345678\n")
    for command in ("validate", "plan"):
        res = run_cli(command, "p.yml", "--secrets-file", "secrets.env")
        assert res.code == 0, (command, res.err)


# -- a plan never hides a call -----------------------------------------------------------------

def _rows(tmp_path: Path, n: int) -> None:
    (tmp_path / "leads.csv").write_text(
        "Email\n" + "".join(f"lead{i}@example.com\n" for i in range(n)))


LONG_LOOP = """\
- id: each
  loop: {file: leads.csv, columns: [{name: Email, required: true}]}
  getLead: {leadKey: {keyType: EMAIL, keyValue: "${item.Email}"}}
- id: later
  name: Schedule the follow-up
  scheduleCampaign: {programName: Nurture, campaignName: Batch Send}
"""


def test_a_step_after_a_2500_row_loop_is_in_the_plan_with_exact_counts(run_cli, tmp_path):
    _rows(tmp_path, 2500)
    _write(tmp_path, LONG_LOOP)
    res = run_cli("plan", "p.yml", "--markdown", "plan.md")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    each = next(line for line in lines if line.split()[:2] == ["each", "getLead"])
    later = next(line for line in lines if line.split()[:2] == ["later", "scheduleCampaign"])
    assert each.split()[2] == "2500" and later.split()[2] == "1"
    assert "Schedule the follow-up" in later
    assert "Nurture / Batch Send" in res.out  # its own call is listed, not cut off
    assert "... 2477 more calls of step each" in res.out  # the middle of the loop, summarised
    assert "EMAIL=lead0@example.com" in res.out and "EMAIL=lead2499@example.com" in res.out
    assert "2501 calls" in res.out
    md = (tmp_path / "plan.md").read_text()
    assert "| getLead | 2500 |" in md and "| **:warning: scheduleCampaign** | 1 |" in md


def test_validate_plan_and_run_agree_on_a_job_over_the_daily_quota(run_cli, sandbox, tmp_path):
    _rows(tmp_path, 10_001)
    _write(tmp_path, LONG_LOOP)
    needed = "10,002 calls are more than one day's quota of 10,000"
    res = run_cli("validate", "p.yml")
    assert res.code == 0 and needed in res.err, res.err
    res = run_cli("plan", "p.yml")
    assert res.code == 0 and needed in res.out, res.out
    res = run_cli("p.yml", env=target_env(sandbox))
    assert res.code == 2 and needed in res.err and "--allow-over-quota" in res.err
    assert _sent(sandbox) == 0
    # the explicit flag lets it start (the first lead is unknown: 20103 stops it at once)
    res = run_cli("p.yml", "--allow-over-quota", env=target_env(sandbox))
    assert "warning: " + needed in res.err
    # preflight's one read (the requestable campaigns), then the first getLead's 20103
    assert res.code == 1 and "20103" in res.out and _sent(sandbox) == 2


# -- records that FAILED inside a successful reply ----------------------------------------------

def test_a_failed_record_fails_the_step_and_is_not_in_lead_ids(run_cli, sandbox, tmp_path):
    _write(tmp_path, """\
        - id: many
          syncMultipleLeads:
            leadRecordList:
              - {Email: ok1@example.com}
              - {Id: 987654, Email: ghost@example.com}
              - {Email: ok2@example.com}
        - id: after
          requestCampaign:
            campaignId: 1001
            leadList: [{keyType: IDNUM, keyValue: "1"}]
        """)
    res = run_cli("p.yml", env=target_env(sandbox))
    assert res.code == 1, res.err
    assert "1 of 3 record(s) FAILED: record 2" in res.out + res.err
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["status"] == "failed"
    many = report["steps"][0]
    call = many["calls"][0]
    assert many["status"] == "failed" and call["status"] == "failed"
    assert call["fault"]["kind"] == "records" and "record 2" in call["fault"]["message"]
    statuses = [s["status"] for s in call["outputs"]["syncStatusList"]]
    assert statuses[1] == "FAILED" and statuses.count("FAILED") == 1
    assert len(call["outputs"]["leadIds"]) == 2  # only the two leads that exist
    assert report["steps"][1]["status"] == "skipped"  # the run stopped at the failure
    assert box.open_store(sandbox.db_path).campaign_runs() == []


# -- every data file read is shown, with where it really is --------------------------------------

def test_a_data_file_outside_the_playbook_folder_is_flagged_in_plan_and_results(
        run_cli, sandbox, tmp_path):
    inside = tmp_path / "book"
    inside.mkdir()
    (inside / ".git").mkdir()  # the playbook's repository
    _rows(tmp_path, 2)  # tmp_path/leads.csv: outside the repository
    (inside / "p.yml").write_text("version: 1\nname: Outside\n" + TARGET_YAML + textwrap.dedent("""\
        steps:
          - id: each
            loop: {file: ../leads.csv, columns: [{name: Email}]}
            getLead: {leadKey: {keyType: EMAIL, keyValue: "${item.Email}"}}
        """))
    res = run_cli("plan", "book/p.yml")
    assert res.code == 0, res.err
    assert f"../leads.csv -> {(tmp_path / 'leads.csv').resolve()}" in res.out
    assert "OUTSIDE the playbook's repository" in res.out
    res = run_cli("book/p.yml", env=target_env(sandbox))
    assert res.code in (0, 1), res.err
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["data_files"] == [{"name": "../leads.csv",
                                     "path": str((tmp_path / "leads.csv").resolve()),
                                     "outside": True}]


def test_a_data_file_gone_after_validation_fails_its_step_with_the_reason_on_the_console(
        run_cli, sandbox, tmp_path, monkeypatch):
    from runner import prepare as app

    _rows(tmp_path, 3)
    _write(tmp_path, """\
        - id: each
          loop: {file: leads.csv, columns: [{name: Email}]}
          syncLead: {leadRecord: {Email: "${item.Email}"}}
        """)
    prepare = app.prepare

    def prepare_then_lose_the_file(*args, **kwargs):  # as if removed during validation
        plan = prepare(*args, **kwargs)
        (tmp_path / "leads.csv").unlink()
        return plan

    monkeypatch.setattr(app, "prepare", prepare_then_lose_the_file)
    res = run_cli("p.yml", env=target_env(sandbox))
    assert res.code == 1, res.err
    assert "leads.csv" in res.out + res.err and "Traceback" not in res.out + res.err
    failed = [line for line in (res.out + res.err).splitlines() if "FAILED" in line]
    assert failed and any("leads.csv" in line for line in failed), res.out + res.err
    assert _sent(sandbox) == 0


def test_a_var_from_the_command_line_is_taken_as_typed(run_cli, tmp_path):
    _write(tmp_path, ONE_SYNC, VARS)
    res = run_cli("plan", "p.yml", "--var", "email=${env.HOME}")
    assert res.code == 0, res.err
    assert "Email=${env.HOME}" in res.out


def test_validate_github_annotations_escape_the_file_property(run_cli, tmp_path):
    (tmp_path / "a,b:c.yml").write_text("version: 1\nsteps:\n  - id: x\n    syncLeed: {}\n")
    res = run_cli("validate", "a,b:c.yml", "--format", "github")
    assert res.code == 2
    assert res.out.startswith("::error file=a%2Cb%3Ac.yml,line=4,"), res.out


def test_the_daily_quota_is_configurable_for_plan_and_run(run_cli, sandbox, tmp_path):
    _rows(tmp_path, 30)
    _write(tmp_path, LONG_LOOP)
    res = run_cli("plan", "p.yml", "--daily-quota", "20")
    assert res.code == 0 and "31 calls are more than one day's quota of 20" in res.out
    res = run_cli("p.yml", "--daily-quota", "20", env=target_env(sandbox))
    assert res.code == 2 and "quota of 20" in res.err
    assert _sent(sandbox) == 0
    res = run_cli("plan", "p.yml", "--daily-quota", "50000", "--format", "json")
    assert json.loads(res.out)["daily_quota"] == 50_000
