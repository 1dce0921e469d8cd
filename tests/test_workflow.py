"""The GitHub Actions workflow users copy (docs/examples/mktows-run.yml): valid YAML with the
jobs and triggers docs/github-actions.md describes, every `mktows-run` command in it (and in
the doc) exists with the flags it uses, and its shell steps do what they say when run with
bash on a scratch repository (the run job against the sandbox, on 127.0.0.1)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(240)

WORKFLOW = ROOT / "docs" / "examples" / "mktows-run.yml"
DOC = ROOT / "docs" / "github-actions.md"
HOOKS = ROOT / ".pre-commit-hooks.yaml"


def _workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _triggers(wf: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 (PyYAML, like many tools) reads the key `on` as the boolean true.
    return wf["on"] if "on" in wf else wf[True]


def _steps(job: str) -> list[dict[str, Any]]:
    return list(_workflow()["jobs"][job]["steps"])


# -- structure ---------------------------------------------------------------------------------

def test_the_workflow_has_the_documented_triggers_and_jobs():
    wf = _workflow()
    on = _triggers(wf)
    assert set(on) == {"pull_request", "push", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    assert set(wf["jobs"]) == {"validate", "plan", "run"}
    assert wf["permissions"] == {"contents": "read"}  # least privilege by default
    jobs = wf["jobs"]
    assert jobs["validate"]["if"] == jobs["plan"]["if"] == "github.event_name == 'pull_request'"
    assert "push" in jobs["run"]["if"]
    assert jobs["plan"]["needs"] == "validate"
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    assert jobs["run"]["concurrency"]["cancel-in-progress"] is False


def test_secrets_come_from_repository_secrets_and_only_the_run_job_gets_them():
    jobs = _workflow()["jobs"]
    run_env = jobs["run"]["env"]
    assert run_env["MKTOWS_ENCRYPTION_KEY"] == "${{ secrets.MKTOWS_ENCRYPTION_KEY }}"
    assert run_env["MKTOWS_USER_ID"] == "${{ secrets.MKTOWS_USER_ID }}"
    for name in ("validate", "plan"):  # pull requests (and forks) never see a secret
        assert "secrets." not in yaml.safe_dump(jobs[name])


def test_no_expression_is_spliced_into_a_shell_script():
    # ${{ }} inside `run:` would paste untrusted text (a branch name, an input) into bash;
    # every value reaches the scripts through env: instead.
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step


def test_validate_annotates_plan_summarises_and_run_uploads_the_reports():
    validate = " ".join(s.get("run", "") for s in _steps("validate"))
    assert "mktows-run validate --format github" in validate
    plan = " ".join(s.get("run", "") for s in _steps("plan"))
    assert "--markdown" in plan and "$GITHUB_STEP_SUMMARY" in plan
    assert "gh pr comment" in plan
    upload = [s for s in _steps("run") if str(s.get("uses", "")).startswith(
        "actions/upload-artifact@")]
    assert len(upload) == 1 and upload[0]["if"] == "always()"
    assert "reports/" in upload[0]["with"]["path"]
    assert upload[0]["with"]["include-hidden-files"] is True  # .mktows/runs/


def test_playbooks_are_picked_by_the_pre_commit_hooks_patterns():
    (hook,) = yaml.safe_load(HOOKS.read_text())
    env = _workflow()["env"]
    assert env["PLAYBOOKS"] == hook["files"]
    assert env["NOT_PLAYBOOKS"] == hook["exclude"]


# -- every command and flag exists -------------------------------------------------------------

_SEPARATORS = set("();<>|&")
_KEYWORDS = {"then", "do", "else", "!", "exec", "time"}


def _logical_lines(script: str) -> list[str]:
    return script.replace("\\\n", " ").splitlines()


def mktows_commands(script: str) -> list[list[str]]:
    """Each `mktows-run ...` invocation in a shell script, as its argument list (up to the
    next ; | && > and the like)."""
    found = []
    for line in _logical_lines(script):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for i, tok in enumerate(tokens):
            # Only as a command word: not in `pip install mktows-run` or a path.
            if tok != "mktows-run" or (i and not set(tokens[i - 1]) <= _SEPARATORS
                                       and tokens[i - 1] not in _KEYWORDS):
                continue
            args = []
            for arg in tokens[i + 1:]:
                if set(arg) <= _SEPARATORS:
                    break
                args.append(arg)
            found.append(args)
    return found


@cache
def _help(command: str) -> str:
    res = subprocess.run([sys.executable, "-m", "runner", command, "--help"],
                         capture_output=True, text=True)
    assert res.returncode == 0, f"`mktows-run {command}` does not exist: {res.stderr}"
    return res.stdout


def _options(command: str) -> set[str]:
    text = _help(command).split("Options:", 1)[1]
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", text))


def _check(args: list[str]) -> None:
    from runner.cli import cli

    assert args, "mktows-run with no arguments"
    command = args[0] if args[0] in cli.commands else "run"  # `mktows-run PLAYBOOK` = run
    known = _options(command)
    for arg in args:
        if arg.startswith("-") and arg != "-":
            flag = arg.split("=", 1)[0]
            assert flag in known, f"mktows-run {command}: no option {flag}"
    if "--format" in args:
        choice = args[args.index("--format") + 1]
        assert re.search(rf"\[[^\]]*\b{choice}\b[^\]]*\]", _help(command)), choice


def _workflow_commands() -> list[list[str]]:
    return [cmd for job in _workflow()["jobs"].values() for step in job["steps"]
            for cmd in mktows_commands(step.get("run", ""))]


def test_every_mktows_run_command_in_the_workflow_exists_with_its_flags():
    commands = _workflow_commands()
    assert {c[0] for c in commands} == {"validate", "plan", "run"}
    for args in commands:
        _check(args)


def test_every_mktows_run_command_in_the_doc_exists_with_its_flags():
    blocks = re.findall(r"```(?:sh|bash|yaml|console)?\n(.*?)```", DOC.read_text(), re.S)
    commands = [cmd for block in blocks for cmd in mktows_commands(block)]
    assert len(commands) >= 3
    for args in commands:
        _check(args)


def test_the_command_parser_catches_an_unknown_flag():
    assert mktows_commands("pip install mktows-run  # mktows-run validate --nope\n") == []
    (args,) = mktows_commands('x=1; mktows-run plan "$b" --markdwn p.md | tee out\n')
    assert args == ["plan", "$b", "--markdwn", "p.md"]
    with pytest.raises(AssertionError, match="--markdwn"):
        _check(args)
    with pytest.raises(AssertionError, match="validate: no option --junit"):
        _check(["validate", "--junit", "j.xml", "p.yml"])  # a flag of another command
    _check(["p.yml", "--sandbox", "--junit=j.xml"])  # `mktows-run PLAYBOOK` is `run`


# -- the shell steps, run by bash on a scratch repository ---------------------------------------

def _bash_env(tmp_path: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITHUB_"))}
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    # `mktows-run` on PATH is this environment's CLI, as `pip install` makes it in CI.
    (shim / "mktows-run").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m runner "$@"\n')
    (shim / "mktows-run").chmod(0o755)
    summary = tmp_path / "step-summary.md"
    env.update({k: str(v) for k, v in _workflow()["env"].items()})
    env.update(PATH=f"{shim}{os.pathsep}{env.get('PATH', '')}", NO_COLOR="1",
               GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary),
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com", **extra)
    return env


def _sh(repo: Path, env: dict[str, str], script: str) -> subprocess.CompletedProcess[str]:
    # `shell: bash` in a workflow is this command line.
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          cwd=repo, env=env, capture_output=True, text=True)


def _script(job: str, name_starts: str) -> str:
    (step,) = [s for s in _steps(job) if str(s.get("name", "")).startswith(name_starts)]
    return str(step["run"])


BAD = "version: 1\nname: typo\nsteps:\n  - id: a\n    requestCampaing:\n      programName: P\n"


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    """A playbook repository made by `init`, one commit on main; returns it and that commit."""
    for tool in ("bash", "git", "awk"):
        assert shutil.which(tool), f"{tool} is needed to run the workflow's steps"
    from runner import scaffold

    work = tmp_path / "repo"
    scaffold.create(work)
    env = _bash_env(tmp_path, {})
    _sh(work, env, "git init -q -b main && git add -A && git commit -q -m init && "
                   "git update-ref refs/remotes/origin/main HEAD").check_returncode()
    base = _sh(work, env, "git rev-parse HEAD").stdout.strip()
    return work, base


def _commit(repo: Path, env: dict[str, str], files: dict[str, str]) -> None:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _sh(repo, env, "git add -A && git commit -q -m change").check_returncode()


def test_the_validate_step_passes_good_playbooks_and_annotates_a_bad_one(repo, tmp_path):
    work, _ = repo
    env = _bash_env(tmp_path, {})
    script = _script("validate", "Validate")
    ok = _sh(work, env, script)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 playbook(s) valid" in ok.stderr
    # A YAML data file is not a playbook; a bad playbook in a nested directory is.
    _commit(work, env, {"playbooks/data/extra.yml": "- {Email: a@example.com}\n",
                        "team/playbooks/bad.yml": BAD})
    bad = _sh(work, env, script)
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "::error file=team/playbooks/bad.yml,line=5,col=5::" in bad.stdout
    assert "extra.yml" not in bad.stdout + bad.stderr


def test_the_plan_step_summarises_the_changed_playbooks(repo, tmp_path):
    work, _ = repo
    env = _bash_env(tmp_path, {"BASE_REF": "main"})
    script = _script("plan", "Plan")
    unchanged = _sh(work, env, script)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "No playbook changed" in (work / "plan.md").read_text()

    book = (work / "playbooks" / "welcome-new-leads.yml").read_text()
    _commit(work, env, {"playbooks/second.yml": book.replace("Import new leads", "Second")})
    res = _sh(work, env, script)
    assert res.returncode == 0, res.stdout + res.stderr
    plan = (work / "plan.md").read_text()
    assert "mktows-run plan: Second" in plan and "Import new leads" not in plan
    assert plan in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def test_the_run_steps_run_what_the_push_changed_against_the_target(repo, tmp_path, sandbox):
    from tests.conftest import target_env

    work, base = repo
    book = (work / "playbooks" / "welcome-new-leads.yml").read_text()
    env = _bash_env(tmp_path, {**target_env(sandbox), "BEFORE": base, "CHOSEN": ""})
    _commit(work, env, {"playbooks/second.yml": book.replace("Import new leads", "Second")})
    picked = _sh(work, env, _script("run", "Pick"))
    assert picked.returncode == 0, picked.stdout + picked.stderr
    assert (work / "books.txt").read_text() == "playbooks/second.yml\n"

    ran = _sh(work, env, _script("run", "Run"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    reports = work / "reports" / "playbooks_second.yml"
    for name in ("results.json", "junit.xml", "summary.md"):
        assert (reports / name).is_file(), name
    assert list((work / ".mktows" / "runs").iterdir())  # the journal the artifact keeps
    assert "Second" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def test_a_manual_run_takes_the_playbook_it_is_given(repo, tmp_path):
    work, _ = repo
    env = _bash_env(tmp_path, {"BEFORE": "", "CHOSEN": "playbooks/welcome-new-leads.yml"})
    picked = _sh(work, env, _script("run", "Pick"))
    assert picked.returncode == 0, picked.stderr
    assert (work / "books.txt").read_text() == "playbooks/welcome-new-leads.yml\n"
