"""`mktows-run init`: the scaffold validates, plans and runs on the sandbox exactly as
written, by the very commands it prints; it never overwrites without --force. Also
`mktows-run --version` (what this install speaks)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from runner import __version__
from runner.errors import UsageError
from runner.operations import NAMES

SCAFFOLD = ("playbooks/welcome-new-leads.yml", "playbooks/playbook.schema.json",
            "playbooks/data/new-leads.csv", ".gitignore")


def _next_commands(out: str) -> list[list[str]]:
    """The commands `init` printed under "Next:", split as a shell would."""
    block = out.split("Next:\n", 1)[1].split("\n\n", 1)[0]
    return [shlex.split(line) for line in block.splitlines()]


def test_init_prints_three_commands_that_validate_plan_and_run_on_the_sandbox(
        run_cli, tmp_path, monkeypatch):
    res = run_cli("init", "project")
    assert res.code == 0, res.err
    project = tmp_path / "project"
    for rel in SCAFFOLD:
        assert (project / rel).is_file(), rel
        assert str(Path("project") / rel) in res.out  # each file is named

    commands = _next_commands(res.out)
    assert commands[0] == ["cd", "project"]
    assert [c[:2] for c in commands[1:]] == [
        ["mktows-run", "validate"], ["mktows-run", "plan"],
        ["mktows-run", "playbooks/welcome-new-leads.yml"]]
    assert commands[3][-1] == "--sandbox"

    monkeypatch.chdir(project)  # as the printed `cd` says
    results = []
    for command in commands[1:]:
        results.append(run_cli(*command[1:]))
        assert results[-1].code == 0, (command, results[-1].out, results[-1].err)
    validated, planned, ran = results
    assert "1 playbook(s) valid" in validated.err
    assert "syncMultipleLeads" in planned.out and "requestCampaign" in planned.out
    assert "2 calls" in planned.out
    assert "2 steps succeeded" in ran.out + ran.err
    report = json.loads((project / "results.json").read_text())
    assert [s["status"] for s in report["steps"]] == ["ok", "ok"]


def test_init_into_the_current_directory_prints_no_cd(run_cli, tmp_path):
    res = run_cli("init")
    assert res.code == 0, res.err
    assert (tmp_path / "playbooks" / "welcome-new-leads.yml").is_file()
    commands = _next_commands(res.out)
    assert len(commands) == 3 and commands[0][:2] == ["mktows-run", "validate"]


def test_the_modeline_points_at_the_schema_beside_it_the_same_one_schema_prints(run_cli, tmp_path):
    assert run_cli("init").code == 0
    book = tmp_path / "playbooks" / "welcome-new-leads.yml"
    first = book.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    schema_file = book.parent / first.split("$schema=", 1)[1].strip()
    assert schema_file.resolve() == (tmp_path / "playbooks" / "playbook.schema.json").resolve()
    printed = run_cli("schema")
    assert printed.code == 0
    assert schema_file.read_text() == printed.out
    # What an editor would check with it: the scaffold is valid against its own schema.
    jsonschema.validate(yaml.safe_load(book.read_text()), json.loads(printed.out))


def test_the_scaffold_is_commented(tmp_path):
    from runner import scaffold

    scaffold.create(tmp_path)
    text = (tmp_path / "playbooks" / "welcome-new-leads.yml").read_text()
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) >= 20
    for topic in ("--sandbox", "${env.", "secret", "--var", "resume", "mktows-run schema"):
        assert topic in text, topic


def test_state_and_reports_of_a_run_are_ignored_by_git(run_cli, tmp_path, monkeypatch):
    git = shutil.which("git")
    assert git, "git is needed to check the .gitignore"
    assert run_cli("init").code == 0
    run = run_cli("playbooks/welcome-new-leads.yml", "--sandbox", "--junit", "junit.xml",
                  "--markdown", "summary.md")
    assert run.code == 0, run.err
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}  # e.g. a hook's GIT_DIR
    subprocess.run([git, "init", "-q"], cwd=tmp_path, env=env, check=True)
    status = subprocess.run([git, "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                            env=env, check=True, capture_output=True, text=True).stdout
    listed = sorted(line[3:] for line in status.splitlines())
    assert listed == sorted(SCAFFOLD)  # not .mktows/, results.json, junit.xml, summary.md
    for written in (".mktows", "results.json", "junit.xml", "summary.md"):
        assert (tmp_path / written).exists(), written


def test_init_refuses_to_overwrite_and_names_every_existing_file(run_cli, tmp_path):
    assert run_cli("init").code == 0
    book = tmp_path / "playbooks" / "welcome-new-leads.yml"
    book.write_text("# my own work\n")
    res = run_cli("init")
    assert res.code == 2
    for rel in SCAFFOLD[:3]:
        assert str(Path(rel)) in res.err, rel
    assert "--force" in res.err
    assert book.read_text() == "# my own work\n"


def test_a_refusal_writes_nothing_at_all(run_cli, tmp_path):
    data = tmp_path / "playbooks" / "data" / "new-leads.csv"
    data.parent.mkdir(parents=True)
    data.write_text("Email\nmine@example.com\n")
    res = run_cli("init")
    assert res.code == 2
    assert "new-leads.csv" in res.err and "welcome-new-leads.yml" not in res.err
    assert not (tmp_path / "playbooks" / "welcome-new-leads.yml").exists()
    assert not (tmp_path / ".gitignore").exists()
    assert data.read_text() == "Email\nmine@example.com\n"


def test_force_overwrites_the_scaffold_but_only_adds_to_a_gitignore(run_cli, tmp_path):
    (tmp_path / ".gitignore").write_text("node_modules/\nresults.json")  # no final newline
    assert run_cli("init").code == 0
    book = tmp_path / "playbooks" / "welcome-new-leads.yml"
    book.write_text("# my own work\n")
    res = run_cli("init", "--force")
    assert res.code == 0, res.err
    assert "overwrote" in res.out
    assert book.read_text().startswith("# yaml-language-server:")
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", "results.json"]
    assert lines.count("results.json") == 1
    for pattern in (".mktows/", "junit.xml", "summary.md"):
        assert pattern in lines, pattern


def test_init_into_a_file_is_refused(run_cli, tmp_path):
    (tmp_path / "taken").write_text("x")
    res = run_cli("init", "taken")
    assert res.code == 2
    assert "taken" in res.err


def test_a_file_where_a_directory_must_go_is_a_usage_error(run_cli, tmp_path):
    (tmp_path / "playbooks").write_text("not a directory")
    res = run_cli("init")
    assert res.code == 2, res.err
    assert "cannot write" in res.err and "playbooks" in res.err


def test_init_writes_no_symlinked_file_through(tmp_path):
    """--force replaces a symlink with the file instead of writing into what it points at."""
    from runner import scaffold

    outside = tmp_path / "outside.csv"
    outside.write_text("keep me\n")
    project = tmp_path / "project"
    (project / "playbooks" / "data").mkdir(parents=True)
    (project / "playbooks" / "data" / "new-leads.csv").symlink_to(outside)
    with pytest.raises(UsageError, match=r"new-leads\.csv"):
        scaffold.create(project)
    scaffold.create(project, force=True)
    assert outside.read_text() == "keep me\n"
    assert not (project / "playbooks" / "data" / "new-leads.csv").is_symlink()


# -- mktows-run --version ---------------------------------------------------------------------

def test_version_shows_the_wsdl_api_version_and_every_operation(run_cli):
    res = run_cli("--version")
    assert res.code == 0
    first, api, ops = res.out.splitlines()
    assert first == f"mktows-run, version {__version__}"
    assert "3_1" in api
    assert ops == "operations: " + ", ".join(NAMES)
    assert {"syncLead", "requestCampaign", "getCampaignsForSource"} <= set(NAMES)


def test_the_package_metadata_has_keywords_and_valid_classifiers():
    import tomllib

    import trove_classifiers  # hatchling's own dependency: a test extra

    from tests.conftest import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert {"marketo", "mktows"} <= set(project["keywords"])
    assert project["classifiers"]
    for classifier in project["classifiers"]:
        assert classifier in trove_classifiers.classifiers, classifier
        assert classifier not in trove_classifiers.deprecated_classifiers, classifier
    # requires-python's floor is among the versions claimed
    floor = project["requires-python"].removeprefix(">=")
    assert f"Programming Language :: Python :: {floor}" in project["classifiers"]
