"""--sandbox-fixture: try a playbook on the sandbox with your instance's program and campaign
names, through the real CLI; a resume starts the same sandbox."""

from __future__ import annotations

import json
import textwrap

from runner import journal
from runner import sandbox as box
from runner.options import RunOptions
from tests.conftest import ROOT

PLAYBOOK = textwrap.dedent("""\
    version: 1
    steps:
      - id: sync
        syncLead: {leadRecord: {Email: mine@example.com}}
      - id: launch
        requestCampaign:
          programName: Spring Launch 2026
          campaignName: Send Launch Email
          leadList: [{keyType: IDNUM, keyValue: "${steps.sync.leadId}"}]
    """)


def _fixture() -> str:
    text = (ROOT / "runner" / "sandbox" / "fixture.yml").read_text()
    assert "  - name: Welcome Program" in text and "name: Welcome Email" in text
    return text.replace("  - name: Welcome Program", "  - name: Spring Launch 2026", 1).replace(
        "name: Welcome Email", "name: Send Launch Email", 1)


def test_a_run_uses_the_fixture_given_and_resume_keeps_it(run_cli, tmp_path):
    (tmp_path / "mine.yml").write_text(_fixture())
    (tmp_path / "p.yml").write_text(PLAYBOOK)
    res = run_cli("p.yml", "--sandbox", "--sandbox-fixture", "mine.yml")
    assert res.code == 0, res.err + res.out
    report = json.loads((tmp_path / "results.json").read_text())
    assert [s["status"] for s in report["steps"]] == ["ok", "ok"]
    runs = box.open_store(tmp_path / ".mktows" / "sandbox.db").campaign_runs()
    assert [(r["program_name"], r["campaign_name"]) for r in runs] == [
        ("Spring Launch 2026", "Send Launch Email")]
    header = journal.read(tmp_path / ".mktows" / "runs" / report["run_id"]).header
    kept = RunOptions.from_json(header["request"])
    assert kept.sandbox_fixture == (tmp_path / "mine.yml").resolve()
    again = run_cli("resume", report["run_id"])
    assert again.code == 0, again.err


def test_the_packaged_fixture_does_not_know_your_programs(run_cli, tmp_path):
    (tmp_path / "p.yml").write_text(PLAYBOOK)
    res = run_cli("p.yml", "--sandbox")
    assert res.code != 0
    assert "Spring Launch 2026" in res.err + res.out


def test_a_fixture_is_only_for_a_sandbox_run(run_cli, tmp_path):
    (tmp_path / "mine.yml").write_text(_fixture())
    (tmp_path / "p.yml").write_text(PLAYBOOK)
    res = run_cli("p.yml", "--sandbox-fixture", "mine.yml")
    assert res.code == 2 and "--sandbox-fixture is for a run on the sandbox" in res.err
    res = run_cli("p.yml", "--sandbox", "--sandbox-fixture", "missing.yml")
    assert res.code == 2 and "missing.yml" in res.err
    (tmp_path / "broken.yml").write_text("users: [")
    res = run_cli("p.yml", "--sandbox", "--sandbox-fixture", "broken.yml")
    assert res.code == 2 and "broken.yml" in res.err, res.err
