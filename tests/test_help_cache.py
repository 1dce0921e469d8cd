"""`mktows-run --help` from the help click last rendered (runner/entry.py): the same bytes,
without importing click, and never a stale, foreign or damaged text."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from runner import entry
from tests.conftest import ROOT


def _help(cache: Path | str, *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "runner", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def _clicked(res: subprocess.CompletedProcess[str]) -> bool:
    """Whether the process imported click (-X importtime lists every import on stderr)."""
    return any(line.split("|")[-1].strip() == "click" for line in res.stderr.splitlines())


def _uncached(*args: str, columns: int = 80) -> str:
    """The help as click renders it, no cache involved (/dev/null cannot hold one)."""
    res = _help("/dev/null", *args, columns=columns)
    assert res.returncode == 0 and _clicked(res)
    return res.stdout


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_a_second_help_prints_the_same_bytes_without_importing_click(tmp_path, flag):
    first = _help(tmp_path, flag)
    second = _help(tmp_path, flag)
    assert first.returncode == second.returncode == 0
    assert _clicked(first) and not _clicked(second)
    assert second.stdout == first.stdout == _uncached(flag)
    assert second.stdout.startswith("Usage: mktows-run [OPTIONS] COMMAND")


def test_each_width_gets_the_help_click_renders_at_that_width(tmp_path):
    narrow, wide = _uncached("--help", columns=60), _uncached("--help", columns=120)
    assert narrow != wide
    _help(tmp_path, "--help", columns=60)  # cached at 60
    at_120 = _help(tmp_path, "--help", columns=120)
    assert _clicked(at_120) and at_120.stdout == wide  # not the 60-column text
    again = _help(tmp_path, "--help", columns=120)
    assert not _clicked(again) and again.stdout == wide
    # Past 80 columns click formats at 78 either way: the same text, still from the cache.
    assert not _clicked(_help(tmp_path, "--help", columns=200))


def test_other_commands_and_their_help_always_go_through_click(tmp_path):
    _help(tmp_path, "--help")
    for args in (("validate", "--help"), ("--version",), ("--help", "--version")):
        res = _help(tmp_path, *args)
        assert _clicked(res), args
    assert _help(tmp_path, "validate", "--help").stdout == _uncached("validate", "--help")


def _damage(path: Path, how: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    key_line = path.read_bytes().split(b"\n", 1)[0] if path.is_file() else b""
    if path.is_file():
        path.unlink()
    if how == "garbage":
        path.write_bytes(os.urandom(3000))
    elif how == "not-utf8":
        path.write_bytes(key_line + b"\nUsage: \xff\xfe")
    elif how == "huge":
        path.write_bytes(key_line + b"\nUsage: " + b"x" * (entry.MAX_BYTES + 10))
    elif how == "truncated-key":
        path.write_bytes(key_line[:-5])
    elif how == "other-key":
        path.write_bytes(key_line.replace(b"width=78", b"width=77") + b"\nUsage: forged\n")
    elif how == "not-help":
        path.write_bytes(key_line + b"\nsomething else\n")
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "directory":
        path.mkdir()
    elif how == "fifo":
        os.mkfifo(path)


@pytest.mark.parametrize("how", ["garbage", "not-utf8", "huge", "truncated-key", "other-key",
                                 "not-help", "empty", "directory", "fifo"])
def test_a_damaged_or_foreign_cache_file_is_ignored(tmp_path, how):
    expected = _uncached("--help")
    _help(tmp_path, "--help")
    path = tmp_path / "mktows-run" / "help.txt"
    assert path.is_file()
    _damage(path, how)
    res = _help(tmp_path, "--help")  # timeout=60: a FIFO must not block it
    assert res.returncode == 0 and _clicked(res) and res.stdout == expected
    if how not in ("directory",):  # (a directory in its place cannot be replaced)
        again = _help(tmp_path, "--help")
        assert not _clicked(again) and again.stdout == expected


def test_an_unwritable_cache_is_only_slower(tmp_path):
    (tmp_path / "mktows-run").mkdir()
    (tmp_path / "mktows-run").chmod(0o500)
    try:
        if os.access(tmp_path / "mktows-run", os.W_OK):
            pytest.skip("root ignores the directory's mode")
        for _ in range(2):
            res = _help(tmp_path, "--help")
            assert res.returncode == 0 and _clicked(res) and res.stdout == _uncached("--help")
    finally:
        (tmp_path / "mktows-run").chmod(0o700)


def test_the_key_changes_with_the_runners_code_and_the_width(tmp_path, monkeypatch):
    base = entry.help_key(78)
    assert base is not None and base != entry.help_key(60)
    fake = tmp_path / "runner"
    fake.mkdir()
    for name in ("entry.py", "cli.py"):
        (fake / name).write_text("# v1\n")
    monkeypatch.setattr(entry, "__file__", str(fake / "entry.py"))
    before = entry.help_key(78)
    (fake / "cli.py").write_text("# v2, a new option's help\n")
    assert entry.help_key(78) != before


def test_the_console_script_and_python_m_runner_start_in_entry():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["mktows-run"] == "runner.entry:main"
    assert "from runner.entry import main" in (ROOT / "runner" / "__main__.py").read_text()
