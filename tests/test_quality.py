"""ruff and mypy (strict) stay clean: part of the test command so CI enforces them."""

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(300)


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(ROOT / ".venv-ci" / "bin")) or shutil.which(
        name, path=str(__import__("pathlib").Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def test_ruff_is_clean():
    paths = [p for p in ("runner", "tests", "bench") if (ROOT / p).is_dir()]
    res = subprocess.run([_tool("ruff"), "check", *paths], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_strict_is_clean():
    res = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
