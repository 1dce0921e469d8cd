"""The Python API (docs/python-api.md): the documented example runs as written against the
sandbox; `import runner` stays cheap; errors carry every problem; runs write what a CLI run
writes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import runner
from runner.errors import PlaybookError
from runner.model import Location, Problem
from tests.conftest import ROOT

DOC = ROOT / "docs" / "python-api.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_documented_example_runs_against_the_sandbox(tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    monkeypatch.chdir(tmp_path)
    blocks = _blocks()
    assert len(blocks) >= 4
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for block in blocks:  # in order, one namespace, as a reader would paste them
        exec(compile(block, str(DOC), "exec"), namespace)  # our own doc
    printed = capsys.readouterr().out
    assert "broken.yml:4:5: steps[0].syncLaed: unknown key 'syncLaed'" in printed
    assert "failed [('item 2 (leads.yml:4)', 20103)]" in printed


def test_import_runner_loads_nothing_heavy():
    code = ("import sys, runner; heavy = {'click', 'yaml', 'requests', 'jsonschema', "
            "'xmlschema', 'runner.api', 'runner.prepare'}; print(sorted(heavy & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
    code = ("import sys; import runner.cli; print(sorted({'runner.api', 'runner.prepare', "
            "'requests', 'yaml'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"  # `mktows-run --help` pays for none of them


def test_every_exported_name_is_there():
    for name in runner.__all__:
        assert getattr(runner, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        runner.nope  # noqa: B018


def test_a_playbook_error_lists_every_problem_where_it_is():
    problems = [Problem(Location("p.yml", 3, 5), "steps[0].syncLaed", "unknown key 'syncLaed'",
                        "did you mean 'syncLead'?"),
                Problem(Location("leads.csv", 17, 0), "", "Email is empty")]
    text = str(PlaybookError(problems))
    assert text == ("2 problems found:\n"
                    "p.yml:3:5: steps[0].syncLaed: unknown key 'syncLaed'\n"
                    "    hint: did you mean 'syncLead'?\n"
                    "leads.csv:17: Email is empty")
    assert str(PlaybookError(problems[1:])).startswith("1 problem found:\n")


def test_validate_raises_with_every_problem(tmp_path):
    (tmp_path / "bad.yml").write_text(textwrap.dedent("""\
        version: 1
        steps:
          - id: a
            syncLead: {leadRecord: {Email: "${vars.nope}"}}
          - id: a
            getLead: {leadKey: {keyType: EMAIL, keyValue: x@example.com}}
        """))
    with pytest.raises(runner.PlaybookError) as caught:
        runner.validate(tmp_path / "bad.yml")
    assert len(caught.value.problems) >= 2
    for problem in caught.value.problems:
        assert f"{problem.location.file}:{problem.location.line}" in str(caught.value)
    assert "vars.nope" in str(caught.value)


def test_a_run_writes_its_journal_and_reports_and_resume_continues_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fixture = (ROOT / "runner" / "sandbox" / "fixture.yml").read_text().replace(
        "  - name: Welcome Program", "  - name: Spring Launch", 1)
    assert "Spring Launch" in fixture
    (tmp_path / "mine.yml").write_text(fixture)
    (tmp_path / "p.yml").write_text(textwrap.dedent("""\
        version: 1
        steps:
          - id: sync
            syncLead: {leadRecord: {Email: api@example.com}}
          - id: welcome
            requestCampaign:
              programName: Spring Launch
              campaignName: Welcome Email
              leadList: [{keyType: IDNUM, keyValue: "${steps.sync.leadId}"}]
        """))
    with pytest.raises(runner.UsageError, match="sandbox=True"):
        runner.run("p.yml", sandbox_fixture="mine.yml")
    result = runner.run("p.yml", sandbox=True, sandbox_fixture="mine.yml", junit="junit.xml")
    assert isinstance(result, runner.RunResult)
    assert result.ok, [(s.id, s.status, s.failure) for s in result.steps]
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["run_id"] == result.run_id and written["status"] == "ok"
    assert (tmp_path / "junit.xml").is_file()
    folder = tmp_path / ".mktows" / "runs" / result.run_id
    assert (folder / "journal.jsonl").is_file() and (folder / "results.json").is_file()
    again = runner.resume(result.run_id)  # the fixture is kept: the campaign is found again
    assert again.ok and all(c.resumed for s in again.steps for c in s.calls)
    # without it, the packaged sandbox has no Spring Launch (refused by preflight, or failed)
    try:
        other = runner.run("p.yml", sandbox=True, report=None)
    except runner.PlaybookError as exc:
        assert "Spring Launch" in str(exc)
    else:
        assert not other.ok


def test_plan_writes_envelopes_and_a_summary(tmp_path):
    plan = runner.plan(ROOT / "playbooks" / "welcome.yml", envelopes=tmp_path / "env",
                       markdown=tmp_path / "plan.md")
    assert plan.total_calls == 3 and list(plan.steps) == ["sync", "welcome-email",
                                                          "weekly-batch"]
    assert len(list((tmp_path / "env").iterdir())) == 3
    assert "welcome-email" in (tmp_path / "plan.md").read_text()
