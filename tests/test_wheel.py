"""The built wheel carries its schemas and runs the example against the sandbox from a fresh
venv, with no access to the checkout (only loopback network: dependencies are borrowed from
the test environment instead of downloaded)."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Build without isolation: the build backend is a test dependency, so no download.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(ROOT)], check=True, capture_output=True)
    return next(out.glob("mktows_run-*.whl"))


def test_the_wheel_ships_every_schema_inside_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [p for p in (ROOT / "schemas").rglob("*") if p.is_file()]
    assert any(p.parent.name == "rest" for p in shipped)  # the REST body schemas too
    for schema in shipped:
        assert f"runner/schemas/{schema.relative_to(ROOT / 'schemas').as_posix()}" in names
    assert "runner/sandbox/fixture.yml" in names


def test_the_installed_wheel_runs_welcome_on_the_sandbox(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True)
    # Borrow the dependencies: a plain path line in a .pth adds the directory without
    # running its .pth files, so the checkout's editable install stays invisible.
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], check=True, capture_output=True, text=True)
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(purelib.stdout.strip(), "borrowed-deps.pth").write_text("\n".join(deps) + "\n")

    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "playbooks" / "welcome.yml", work / "welcome.yml")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(py), "-c", "import runner; print(runner.__file__)"], cwd=work,
                           env=env, check=True, capture_output=True, text=True)
    assert str(venv) in where.stdout, "the wheel's runner must be the one imported"
    res = subprocess.run([str(venv / "bin" / "mktows-run"), "welcome.yml", "--sandbox"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads((work / "results.json").read_text())["status"] == "ok"
