"""The canary: a full run with failures and retries, every report format, a plan with saved
envelopes, and an interrupted-then-resumed journal; afterwards not one byte written or
printed holds the encryption key, the ${secret.X} value, or a request signature."""

from __future__ import annotations

import re
import textwrap

from runner import sandbox as box
from runner.sandbox.config import FaultPlan, SandboxConfig
from tests.conftest import TARGET_YAML, target_env

SECRET = "canary-Secret-9f8e7d6c5b4a"
SIGNATURE = re.compile(rb"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])")  # HMAC-SHA1 hex

PLAYBOOK = "version: 1\n" + TARGET_YAML + """\
steps:
  - id: sync
    loop: [a@example.com, b@example.com, c@example.com, d@example.com]
    syncLead:
      leadRecord:
        Email: ${item}
        leadAttributeList: {Title: "${secret.CANARY}"}
      returnLead: true
  - id: schedule
    scheduleCampaign:
      programName: Welcome Program
      campaignName: Welcome Batch
      programTokenList: {"{{my.message}}": "${secret.CANARY}"}
  - id: broken
    requestCampaign: {campaignId: 999999}
"""


def test_no_secret_or_signature_appears_in_anything_the_run_leaves(run_cli, tmp_path,
                                                                   monkeypatch):
    (tmp_path / "canary.yml").write_text(textwrap.dedent(PLAYBOOK))
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    faults = FaultPlan(seed=5, fault20016=0.2, http503=0.2, fault20023=0.1)
    with box.running(tmp_path / "box.db", config=SandboxConfig(faults=faults)) as info:
        key = info.encryption_key
        env = {**target_env(info), "CANARY": SECRET}
        run = run_cli("canary.yml", "--junit", "junit.xml", "--markdown", "summary.md",
                      "--retry-backoff", "0.01", "-v", env=env)
        plan = run_cli("plan", "canary.yml", "--envelopes", "envelopes", "--markdown",
                       "plan.md", env=env)
        run_dir = next((tmp_path / ".mktows" / "runs").iterdir())
        resumed = run_cli("resume", run_dir.name, env=env)
        stored = box.open_store(info.db_path).leads()
    assert run.code == 1 and plan.code == 0 and resumed.code == 1
    assert stored[0]["attributes"]["Title"] == SECRET  # the secret was really used
    assert "retry" in run.out + run.err  # and the run really retried
    printed = (run.out + run.err + plan.out + plan.err + resumed.out + resumed.err).encode()
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix not in (".db", ".yml")
               and not p.name.startswith("box.db")]
    assert {p.name for p in written} >= {"results.json", "junit.xml", "summary.md",
                                         "journal.jsonl", "plan.md", "step-summary.md"}
    assert any(p.parent.name == "envelopes" for p in written)
    for name, blob in [("console", printed), *((str(p), p.read_bytes()) for p in written)]:
        for needle in (key.encode(), SECRET.encode()):
            assert needle not in blob, f"{needle!r} leaked into {name}"
        assert not SIGNATURE.search(blob), f"a signature-like value leaked into {name}"
