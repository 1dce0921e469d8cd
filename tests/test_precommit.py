"""The `mktows-run-validate` pre-commit hook, run by pre-commit itself (`try-repo`) on a
throw-away repository holding a good and a bad playbook.

try-repo clones the hook repository, so it needs a commit: the test commits a copy of the
working tree's files in a temporary repository of its own instead of this checkout's HEAD,
so it tests what is on disk and works on a fresh clone. The hook runs the CLI of this test
environment (a shim on PATH); nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(240)

HOOK_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "runner", "schemas")

BAD_PLAYBOOK = """\
version: 1
name: A typo
steps:
  - id: welcome
    requestCampaing:
      programName: Welcome Program
      campaignName: Welcome Email
"""


def _env(tmp_path: Path) -> dict[str, str]:
    # A git hook that runs pytest exports GIT_DIR and friends: they must not leak into
    # the repositories made here. PRE_COMMIT_HOME keeps the user's cache untouched.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    # `mktows-run` on PATH is this environment's CLI, whatever else is installed.
    (shim / "mktows-run").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m runner "$@"\n')
    (shim / "mktows-run").chmod(0o755)
    env.update(PATH=f"{shim}{os.pathsep}{env.get('PATH', '')}",
               PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), NO_COLOR="1",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return env


def _git(cwd: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def _hook_repo(tmp_path: Path, env: dict[str, str]) -> Path:
    repo = tmp_path / "hook-repo"
    repo.mkdir()
    for name in HOOK_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, repo / name)
    _git(repo, env, "init", "-q")
    _git(repo, env, "add", "-A")
    _git(repo, env, "commit", "-q", "-m", "hooks under test")
    return repo


def _user_repo(tmp_path: Path, env: dict[str, str], files: dict[str, str]) -> Path:
    repo = tmp_path / "user-repo"
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text, encoding="utf-8")
    _git(repo, env, "init", "-q")
    _git(repo, env, "add", "-A")  # try-repo --all-files looks at the files git tracks
    return repo


def _try_repo(tmp_path: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = _env(tmp_path)
    hooks = _hook_repo(tmp_path, env)
    user = _user_repo(tmp_path, env, files)
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hooks),
                           "mktows-run-validate", "--all-files", "--verbose"],
                          cwd=user, env=env, capture_output=True, text=True)


def _good() -> dict[str, str]:
    return {"playbooks/welcome.yml": (ROOT / "playbooks" / "welcome.yml").read_text()}


def test_the_manifest_declares_the_hook_without_network_or_secrets():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "mktows-run-validate"]
    assert hook["entry"] == "mktows-run validate"
    # unsupported: pre-commit installs nothing (no package index needed); see the file.
    assert hook["language"] == "unsupported"
    assert hook["types"] == ["yaml"]
    assert "env" not in hook and "additional_dependencies" not in hook


def test_a_good_playbook_passes(tmp_path):
    res = _try_repo(tmp_path, _good())
    assert res.returncode == 0, res.stdout + res.stderr
    assert "mktows-run validate" in res.stdout and "Passed" in res.stdout
    assert "1 playbook(s) valid" in res.stdout  # --verbose: it did run, on that file


def test_a_bad_playbook_fails_with_file_line_and_column(tmp_path):
    res = _try_repo(tmp_path, {**_good(), "playbooks/bad.yml": BAD_PLAYBOOK})
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Failed" in res.stdout
    assert "playbooks/bad.yml:5:5: steps[0].requestCampaing: unknown key" in res.stdout
    assert "did you mean 'requestCampaign'?" in res.stdout


def test_only_yaml_under_a_playbook_directory_is_checked(tmp_path):
    # The same invalid playbook in four places: only the one in a playbook(s)/ directory
    # with a YAML name is the hook's business.
    res = _try_repo(tmp_path, {**_good(), "config/settings.yml": BAD_PLAYBOOK,
                               "playbooks/notes.txt": BAD_PLAYBOOK,
                               "playbooks-old.yml": BAD_PLAYBOOK,
                               "team/playbook/typo.yaml": BAD_PLAYBOOK})
    assert res.returncode == 1, res.stdout + res.stderr
    assert "team/playbook/typo.yaml:5:5: steps[0].requestCampaing" in res.stdout
    for ignored in ("config/settings.yml", "notes.txt", "playbooks-old.yml"):
        assert ignored not in res.stdout


def test_the_init_scaffold_passes_the_hook(tmp_path):
    from runner import scaffold

    project = tmp_path / "project"
    scaffold.create(project)
    files = {p.relative_to(project).as_posix(): p.read_text()
             for p in project.rglob("*") if p.is_file()}
    res = _try_repo(tmp_path, files)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Passed" in res.stdout and "1 playbook(s) valid" in res.stdout


def test_the_documented_local_hook_is_the_manifests_hook():
    import re

    doc = (ROOT / "docs" / "pre-commit.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", doc, re.S)]
    (local,) = [b for b in blocks if isinstance(b, dict)
                and any(r.get("repo") == "local" for r in b.get("repos", []))]
    (documented,) = local["repos"][0]["hooks"]
    (manifest,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    for key in ("id", "entry", "language", "files", "exclude", "types"):
        assert documented[key] == manifest[key], key
