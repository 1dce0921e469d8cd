"""The invalid-playbook corpus: every case in tests/data/invalid exits 2, prints its expected
problems, never a traceback, and sends nothing to a live sandbox it could have reached.

Each `<case>.yml` has a sibling `<case>.expected`: one line per line that must appear in stderr.
A line must be the start of a stderr line (the whole line, or at least up to and including the
message); a `hint:` line must be the indented hint printed right after the line above it. Every
case ends with the summary line (`1 problem found; nothing was sent.`), which pins the count.
Whatever the case, stderr holds only problem lines, their hints and the summary, last.

A case that needs command-line arguments says so on its first line, `# args: --var x=1`;
`{shared}` there and in its .expected stands for the shared/ folder beside the checkout (a case
whose shared file is missing is skipped).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from runner import sandbox as box
from tests.conftest import ROOT, SHARED, target_env

CORPUS = ROOT / "tests" / "data" / "invalid"
UNSET = ("MKTOWS_TEST_UNSET_EMAIL", "MKTOWS_TEST_UNSET_TOKEN", "MKTOWS_ENDPONT")



def _args(case: Path) -> list[str]:
    first = case.read_text(encoding="utf-8").split("\n", 1)[0]
    if not first.startswith("# args:"):
        return []
    return shlex.split(first.removeprefix("# args:"))


def _params() -> list[object]:
    cases = sorted(CORPUS.glob("*.yml"))
    assert len(cases) >= 36, "the corpus has lost cases"
    out = []
    for case in cases:
        marks = []
        out.append(pytest.param(case.stem, id=case.stem, marks=marks))
    return out


def _expected(case: str) -> list[tuple[str, list[str]]]:
    """(line, [hints]) entries of a case's .expected file."""
    entries: list[tuple[str, list[str]]] = []
    text = (CORPUS / f"{case}.expected").read_text(encoding="utf-8")
    for line in text.replace("{shared}", str(SHARED)).splitlines():
        if not line.strip():
            continue
        if line.startswith("hint:"):
            assert entries, f"{case}.expected: a hint line needs a problem line above it"
            entries[-1][1].append(line)
        else:
            entries.append((line, []))
    assert entries, f"{case}.expected is empty"
    return entries


def _missing(entries: list[tuple[str, list[str]]], stderr: str) -> list[str]:
    lines = stderr.splitlines()

    def found(head: str, hints: list[str]) -> bool:
        for i, line in enumerate(lines):
            after = lines[i + 1:i + 1 + len(hints)]
            if line.startswith(head) and len(after) == len(hints) and all(
                    got.startswith("    " + want) for got, want in zip(after, hints, strict=True)):
                return True
        return False

    return ["\n    ".join([head, *hints]) for head, hints in entries if not found(head, hints)]


_PROBLEM = re.compile(r"^\S.*?:\d+(?::\d+)?: \S")  # file:line:col: path: message (col optional)
_HINT = re.compile(r"^    hint: \S")
_SUMMARY = re.compile(r"^\d+ problems? found; nothing was sent\.$")


def _off_format(stderr: str) -> list[str]:
    """Lines of a rejection that break the format: problem lines, each optionally followed by
    indented hints, then the summary line last."""
    lines = stderr.rstrip("\n").split("\n")
    if not lines or not _SUMMARY.match(lines[-1]):
        return [f"(the last line is not the summary) {lines[-1] if lines else ''!r}"]
    bad = []
    for i, line in enumerate(lines[:-1]):
        if _PROBLEM.match(line):
            continue
        if _HINT.match(line) and i > 0:
            continue
        bad.append(repr(line))
    return bad


def _stage(case: str, tmp_path: Path) -> tuple[str, list[str]]:
    """Copy the case and the corpus data into tmp_path (short, stable paths in messages)."""
    source = CORPUS / f"{case}.yml"
    args = []
    for arg in _args(source):
        if "{shared}" in arg:
            arg = arg.replace("{shared}", str(SHARED))
            if not Path(arg).exists():
                pytest.skip(f"{arg} is not here (shared/ reference files are optional)")
        args.append(arg)
    shutil.copy(source, tmp_path / source.name)
    shutil.copytree(CORPUS / "data", tmp_path / "data")
    return source.name, args


def test_every_case_has_its_expected_lines():
    for case in sorted(CORPUS.glob("*.yml")):
        assert case.with_suffix(".expected").is_file(), f"{case.name} has no .expected"
    for expected in sorted(CORPUS.glob("*.expected")):
        assert expected.with_suffix(".yml").is_file(), f"{expected.name} has no playbook"
        last = expected.read_text(encoding="utf-8").rstrip("\n").split("\n")[-1]
        assert _SUMMARY.match(last), f"{expected.name} does not end with the summary line"


@pytest.mark.parametrize("case", _params())
def test_an_invalid_playbook_exits_2_with_its_problems_and_sends_nothing(
        case, run_cli, sandbox, tmp_path, monkeypatch):
    name, args = _stage(case, tmp_path)
    for var in UNSET:
        monkeypatch.delenv(var, raising=False)
    res = run_cli(name, *args, env=target_env(sandbox))
    everything = res.out + res.err
    assert "Traceback" not in everything
    assert "internal error" not in everything
    assert res.code == 2, everything
    missing = _missing(_expected(case), res.err)
    assert not missing, "missing from stderr:\n" + "\n".join(missing) + "\n--- stderr:\n" + res.err
    assert not _off_format(res.err), "not in the problem format:\n" + "\n".join(_off_format(res.err))
    assert box.open_store(sandbox.db_path).request_count() == 0
    assert not (tmp_path / "results.json").exists()


FORMAT_CASE = "one_pass_many_problems"


def test_validate_renders_the_problems_as_json(run_cli, tmp_path):
    name, _ = _stage(FORMAT_CASE, tmp_path)
    text = run_cli("validate", name)
    res = run_cli("validate", "--format", "json", name)
    assert res.code == 2, res.err
    assert "Traceback" not in res.out + res.err
    problems = json.loads(res.out)
    assert isinstance(problems, list)
    assert len(problems) == len(_expected(FORMAT_CASE)) - 1  # all but the summary line
    for p in problems:
        assert set(p) >= {"file", "line", "col", "path", "message", "hint"}
        assert p["file"] == name
        assert isinstance(p["line"], int) and isinstance(p["col"], int)
        assert p["line"] >= 1 and p["col"] >= 1
        assert isinstance(p["message"], str) and p["message"]
        assert p["hint"] is None or isinstance(p["hint"], str)
        # The same problem as the text format prints.
        assert f"{name}:{p['line']}:{p['col']}: {p['path']}: {p['message']}" in text.err
        if p["hint"]:
            assert f"    hint: {p['hint']}" in text.err
    first = problems[0]
    assert (first["line"], first["col"], first["path"]) == (14, 16, "steps[0].syncLead.leadRecord.Email")
    assert first["message"] == "unknown variable 'vars.emial' (${vars.emial})"
    assert first["hint"] == "did you mean 'email'?"


def test_validate_renders_the_problems_as_github_annotations(run_cli, tmp_path):
    name, _ = _stage(FORMAT_CASE, tmp_path)
    res = run_cli("validate", "--format", "github", name)
    assert res.code == 2, res.err
    assert "Traceback" not in res.out + res.err
    lines = [line for line in res.out.splitlines() if line.strip()]
    assert len(lines) == len(_expected(FORMAT_CASE)) - 1
    pattern = re.compile(rf"^::error file={re.escape(name)},line=(\d+),col=(\d+)::(.+)$")
    for line in lines:
        assert pattern.match(line), line
    assert lines[0] == (f"::error file={name},line=14,col=16::steps[0].syncLead.leadRecord.Email: "
                        "unknown variable 'vars.emial' (${vars.emial}) (hint: did you mean 'email'?)")
