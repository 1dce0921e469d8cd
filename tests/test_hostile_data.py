"""Hostile and broken data files, --vars-file and --secrets-file: every case ends with the exit
code its class says (2: a located problem, nothing sent; 0: valid input), never a traceback,
in bounded memory.

Each data-file case runs `mktows-run validate` on a one-step playbook that loops over the file;
a vars case runs `validate --vars-file`, a secrets case `--secrets-file`. Big, sparse and
deeply nested inputs are generated in tmp_path and checked in a subprocess limited to about
500 MB of address space (a reader that loads them whole dies there). A data file that changes
between validation and the run fails its step with a message, not the run with a crash.
"""

from __future__ import annotations

import itertools
import os
import re
import resource
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner import sandbox as box
from runner.data import MAX_COLUMNS, MAX_RECORD_CHARS
from runner.executor import execute
from runner.options import RunOptions, Sending
from runner.prepare import prepare
from runner.secrets import Secret
from runner.target import Target
from runner.transport import HttpTransport
from tests.conftest import ROOT, TARGET_YAML

pytestmark = pytest.mark.timeout(300)

MEMORY_LIMIT = 500 * 1024 * 1024
GB2 = 2 * 1024 ** 3
CANARY = "CANARY-7d1f-secret-value"  # in a broken secrets file: must never be echoed


def _playbook(data_name: str, loop_extra: str = "") -> str:
    # Line 8, column 18 is the `file:` value: where problems about the file itself are reported.
    columns = "[{name: Email, required: true}, {name: Count, type: integer}, {name: Score, type: number}]"
    loop = f"{{file: {data_name}, columns: {columns}{loop_extra}}}"
    return "version: 1\n" + TARGET_YAML + textwrap.dedent(f"""\
        steps:
          - id: import
            loop: {loop}
            getLead:
              leadKey: {{keyType: EMAIL, keyValue: "${{item.Email}}"}}
        """)


AT_FILE = "p.yml:8:18: steps[0].loop.file: "

VARS_PLAYBOOK = "version: 1\n" + TARGET_YAML + textwrap.dedent("""\
    vars: {email: ada@example.com}
    steps:
      - id: one
        getLead:
          leadKey: {keyType: EMAIL, keyValue: "${vars.email}"}
    """)

# -- making inputs -------------------------------------------------------------------------------

Maker = Callable[[Path], str]  # writes the input into a folder, returns its name (or path)


def text(name: str, content: str, encoding: str = "utf-8") -> Maker:
    def make(folder: Path) -> str:
        (folder / name).write_bytes(content.encode(encoding))
        return name
    return make


def raw(name: str, content: bytes) -> Maker:
    def make(folder: Path) -> str:
        (folder / name).write_bytes(content)
        return name
    return make


def sparse(name: str, size: int = GB2) -> Maker:
    def make(folder: Path) -> str:
        with (folder / name).open("wb") as f:
            f.truncate(size)  # a hole: no disk space, reads as NUL bytes
        return name
    return make


def fifo(name: str) -> Maker:
    def make(folder: Path) -> str:
        os.mkfifo(folder / name)
        return name
    return make


def symlink(name: str, target: str) -> Maker:
    def make(folder: Path) -> str:
        (folder / name).symlink_to(target)
        return name
    return make


def directory(name: str) -> Maker:
    def make(folder: Path) -> str:
        (folder / name).mkdir()
        return name
    return make


def outside(path: str) -> Maker:
    return lambda folder: path


def lit(prefix: str) -> str:
    return re.escape(prefix)


def _deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def _bomb_list() -> str:
    names = "abcdefghi"
    lines = ["- &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"- &{n} [{', '.join(['*' + p] * 9)}]" for p, n in itertools.pairwise(names)]
    return "\n".join(lines) + "\n"


def _bomb_mapping() -> str:
    names = "abcdefghi"
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"{n}: &{n} [{', '.join(['*' + p] * 9)}]" for p, n in itertools.pairwise(names)]
    return "\n".join(lines) + "\n"


def _json_records(n: int) -> str:
    # Every number has an exponent and they fall on every position of the reader's 64 KiB
    # chunks: `3.5e` + `1` must be read as 35, never cut.
    items = [f'{{"Email": "lead{i}@example.com", "Count": {i}.5e1, "Note": "{"x" * (i % 97)}"}}'
             for i in range(n)]
    return "[\n" + ",\n".join(items) + "\n]\n"


# -- the corpus --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    make: Maker
    expect: tuple[str, ...]  # regexes, each matching the start of a line of stderr
    hint: str | None = None  # the hint printed under the first expected line starts with this
    code: int = 2
    heavy: bool = False  # run in a subprocess with limited memory
    loop: str = ""  # extra keys of the playbook's loop:
    kind: str = "data"  # data | vars | secrets


ENORMOUS = "x" * (2 * MAX_RECORD_CHARS)
CSV_HEAD = "Email,Count\n"

DATA_CASES = [
    # CSV
    Case("csv-stray-quote", text("leads.csv", CSV_HEAD + '"a@example.com,1\nb@example.com,2\n'),
         (lit("leads.csv:2: a quoted value that starts here is never closed"),),
         hint=lit('hint: a value that starts with " runs until the next lone "')),
    Case("csv-stray-quote-runs-past-the-bound",
         text("leads.csv", CSV_HEAD + '"a@example.com,1\n' + "b@example.com,2\n" * 80_000),
         (lit("leads.csv:2: the record that starts here runs past 1,048,576 characters"),),
         hint=lit('hint: a value that starts with "'), heavy=True),
    Case("csv-text-after-closing-quote", text("leads.csv", CSV_HEAD + '"ada"@example.com,1\n'),
         (lit("leads.csv:2: text after the closing quote of a value"),)),
    Case("csv-one-enormous-line", text("leads.csv", CSV_HEAD + "a@example.com," + ENORMOUS + "\n"),
         (lit("leads.csv:2: the line is longer than 1,048,576 characters"),), heavy=True),
    Case("csv-sparse-2gb", sparse("leads.csv"),
         (lit("leads.csv:1: the line is longer than 1,048,576 characters"),), heavy=True),
    Case("csv-duplicate-header", text("leads.csv", "Email,Count,Email\na@example.com,1,b@example.com\n"),
         (lit("leads.csv:1: header column 3 'Email' repeats column 1"),),
         hint=lit("hint: give every column its own name")),
    Case("csv-short-row", text("leads.csv", "Email,Count,Country\na@example.com\n"),
         (lit("leads.csv:2: 1 value for 3 columns"),), hint=lit("hint: every row needs one value")),
    Case("csv-every-bad-row-is-listed",
         text("leads.csv", "Email,Count,Country\na@example.com,1,NO\nb@example.com\n"
              "c@example.com,3,SE,extra\nd@example.com,4,DK\n"),
         (lit("leads.csv:3: 1 value for 3 columns"), lit("leads.csv:4: 4 values for 3 columns"),
          lit("2 problems found"))),
    Case("csv-header-column-without-name", text("leads.csv", "Email,,Count\na,b,1\n"),
         (lit("leads.csv:1: header column 2 has no name"),)),
    Case("csv-too-many-columns",
         text("leads.csv", "Email," + ",".join(f"c{i}" for i in range(MAX_COLUMNS)) + "\n"),
         (lit(f"leads.csv:1: the header has {MAX_COLUMNS + 1:,} columns"),)),
    Case("csv-a-flood-of-blank-lines", text("leads.csv", CSV_HEAD + "\n" * (MAX_RECORD_CHARS + 10)),
         (lit("leads.csv:2: more than 1,048,576 characters of blank lines"),)),
    Case("csv-not-utf8-on-line-4",
         raw("leads.csv", b"Email,Count\na@example.com,1\nb@example.com,2\ngr\xe2ce@example.com,3\n"),
         (lit("leads.csv:4: not UTF-8 text (byte 46)"),)),
    Case("csv-utf16", text("leads.csv", CSV_HEAD + "a@example.com,1\n", "utf-16"),
         (lit("leads.csv:1: not UTF-8 text (byte 0)"),)),
    Case("csv-quote-as-delimiter", text("leads.csv", CSV_HEAD), (lit(
         "leads.csv:1: the delimiter '\"' cannot separate CSV values"),), loop=", delimiter: '\"'"),
    Case("csv-integer-of-5000-digits", text("leads.csv", CSV_HEAD + "a@example.com," + "9" * 5000 + "\n"),
         (lit("leads.csv:2: Count is '999"),)),
    Case("csv-number-that-is-infinite", text("leads.csv", "Email,Score\na@example.com,-inf\n"),
         (lit("leads.csv:2: Score is '-inf', not a number"),)),
    Case("csv-with-a-bom-is-valid", raw("leads.csv", b"\xef\xbb\xbfEmail,Count\na@example.com,1\n"),
         (), code=0),
    # the file itself
    Case("fifo", fifo("leads.csv"),
         (lit(AT_FILE + "data file leads.csv is a FIFO (named pipe), not a regular file"),),
         hint=lit("hint: save the data to a regular file")),
    Case("symlink-to-dev-zero", symlink("leads.csv", "/dev/zero"),
         (lit(AT_FILE + "data file leads.csv is a character device, not a regular file"),)),
    Case("directory", directory("leads.csv"),
         (lit(AT_FILE + "data file leads.csv is a directory, not a regular file"),)),
    Case("dangling-symlink", symlink("leads.csv", "no-such-file.csv"),
         (lit(AT_FILE + "data file leads.csv is a broken symbolic link"),)),
    Case("fifo-json", fifo("leads.json"),
         (lit(AT_FILE + "data file leads.json is a FIFO"),)),
    # JSON arrays
    Case("json-with-a-bom-is-valid", raw("leads.json", b'\xef\xbb\xbf[{"Email": "a@example.com"}]'),
         (), code=0),
    Case("json-nested-100000-deep", text("leads.json", "[\n" + _deep_json(100_000) + "\n]"),
         (lit("leads.json:2: the item nests more than 64 levels deep"),), heavy=True),
    Case("json-nested-100-deep", text("leads.json", '[{"Email": "a@example.com"},\n'
                                      + _deep_json(100) + "]"),
         (lit("leads.json:2: the item nests more than 64 levels deep"),)),
    Case("json-integer-of-5000-digits",
         text("leads.json", '[{"Email": "a@example.com", "Count": ' + "7" * 5000 + "}]"),
         (lit("leads.json:1: a number of 5,000 characters (at most 100)"),)),
    Case("json-exponent-out-of-range", text("leads.json", '[{"Email": "a@example.com", "Count": 1e999}]'),
         (lit("leads.json:1: the number 1e999 is out of range"),)),
    Case("json-nan", text("leads.json", '[{"Email": "a@example.com", "Count": NaN}]'),
         (lit("leads.json:1: NaN is not a JSON number"),)),
    Case("json-text-after-the-array", text("leads.json", '[{"Email": "a@example.com"}]\n{"x": 1}'),
         (lit("leads.json:2: text after the end of the array"),)),
    Case("json-trailing-comma", text("leads.json", '[{"Email": "a@example.com"},\n]'),
         (lit("leads.json:2: not JSON: Expecting value"),)),
    Case("json-array-never-closed", text("leads.json", '[{"Email": "a@example.com"}\n'),
         (lit("leads.json:2: not JSON: the array is not closed"),)),
    Case("json-error-on-its-line", text("leads.json", '[\n{"Email": "a@example.com"},\n'
                                        '{"Email": "b@example.com"\n "Count": 2}\n]'),
         (lit("leads.json:4: not JSON: Expecting ',' delimiter"),)),
    Case("json-stray-quote", text("leads.json", '[{"Email": "a@example.com},\n'
                                  + '{"Email": "b@example.com"},\n' * 1000 + "]"),
         (lit("leads.json:1: not JSON: Invalid control character"),),
         hint=lit("hint: a string cannot hold a line break")),
    Case("json-string-runs-past-the-bound", text("leads.json", '[{"Email": "' + ENORMOUS),
         (lit("leads.json:1: the item that starts here runs past 1,048,576 characters"),),
         hint=lit('hint: a string with a stray "'), heavy=True),
    Case("json-sparse-2gb", sparse("leads.json"),
         (lit("leads.json:1: a JSON data file must be an array of items"),), heavy=True),
    Case("json-white-space-flood", text("leads.json", "[" + " " * (MAX_RECORD_CHARS + 10) + "]"),
         (lit("leads.json:1: more than 1,048,576 characters of white space"),)),
    Case("json-control-character-in-a-string", text("leads.json", '[{"Email": "a\x01b@example.com"}]'),
         (lit("leads.json:1: not JSON: Invalid control character"),)),
    Case("json-numbers-across-read-chunks-are-valid", text("leads.json", _json_records(4000)),
         (), code=0),
    # JSONL
    Case("jsonl-with-a-bom-is-valid", raw("leads.jsonl", b'\xef\xbb\xbf{"Email": "a@example.com"}\n'),
         (), code=0),
    Case("jsonl-integer-of-5000-digits",
         text("leads.jsonl", '{"Email": "a@example.com"}\n{"Email": "b@example.com", "Count": '
              + "1" * 5000 + "}\n"),
         (lit("leads.jsonl:2: a number of 5,000 characters (at most 100)"),)),
    Case("jsonl-nested-100000-deep", text("leads.jsonl", _deep_json(100_000) + "\n"),
         (lit("leads.jsonl:1: the item nests more than 64 levels deep"),), heavy=True),
    Case("jsonl-every-bad-line-is-listed",
         text("leads.jsonl", '{"Email": "a@example.com"}\n{"Email": "b@example.com"\n'
              '{"Email": "c@example.com"}\n{"Email" "d@example.com"}\n'),
         (lit("leads.jsonl:2:26: not JSON: Expecting ',' delimiter"),
          lit("leads.jsonl:4:10: not JSON: Expecting ':' delimiter"), lit("2 problems found")),
         hint=lit("hint: JSONL holds one JSON value per line")),
    Case("jsonl-one-enormous-line", text("leads.jsonl", '{"Email": "' + ENORMOUS + '"}\n'),
         (lit("leads.jsonl:1: the line is longer than 1,048,576 characters"),), heavy=True),
    Case("jsonl-sparse-2gb", sparse("leads.jsonl"),
         (lit("leads.jsonl:1: the line is longer than 1,048,576 characters"),), heavy=True),
    # YAML lists
    Case("yaml-control-character", text("leads.yaml", "- Email: a@example.com\n- Email: b\x01c\n"),
         (lit("leads.yaml:2:11: U+0001 is a control character, not allowed in a YAML file"),),
         hint=lit("hint: write it as an escape in a double-quoted string")),
    Case("yaml-nul-byte", text("leads.yaml", "- Email: a@example.com\n\x00\n"),
         (lit("leads.yaml:2:1: U+0000 is a control character"),)),
    Case("yaml-sparse-2gb", sparse("leads.yaml"),
         (lit("leads.yaml:1: the file is 2,147,483,648 bytes; a YAML data file may be at most 1 MiB"),),
         hint=lit("hint: use CSV or JSONL for big data"), heavy=True),
    Case("yaml-with-a-bom-is-valid", raw("leads.yaml", b"\xef\xbb\xbf- Email: a@example.com\n"), (),
         code=0),
    Case("yaml-not-utf8", raw("leads.yaml", b"- Email: a@example.com\n- Email: gr\xe2ce@example.com\n"),
         (lit("leads.yaml:2: not UTF-8 text (byte 34)"),)),
    # (the messages of these belong to the YAML reader, playbook.source: here, where and how)
    Case("yaml-alias-bomb", text("leads.yaml", _bomb_list()), (r"leads\.yaml:\d+(:\d+)?: \S",),
         heavy=True),
    Case("yaml-nested-100000-deep", text("leads.yaml", "- " + _deep_json(100_000) + "\n"),
         (r"leads\.yaml:\d+(:\d+)?: .*(nest|deep)",), heavy=True),
    Case("yaml-integer-of-5000-digits",
         text("leads.yaml", "- Email: a@example.com\n  Count: " + "3" * 5000 + "\n"),
         (r"leads\.yaml:2(:\d+)?: .*(number|digits|long)",)),
]

VARS_CASES = [
    Case("vars-dev-zero", outside("/dev/zero"),
         (lit("/dev/zero:1: --vars-file: not a regular file: it is a character device"),),
         kind="vars"),
    Case("vars-fifo", fifo("vars.yml"), (lit("vars.yml:1: --vars-file: not a regular file: it is a "
                                             "FIFO (named pipe)"),), kind="vars"),
    Case("vars-symlink-to-dev-zero", symlink("vars.yml", "/dev/zero"),
         (lit("vars.yml:1: --vars-file: not a regular file: it is a character device"),), kind="vars"),
    Case("vars-directory", directory("vars.d"), (r".*vars\.d.* is a directory",), kind="vars"),
    Case("vars-binary", raw("vars.yml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
         (lit("vars.yml:1:1: --vars-file: not UTF-8 text (byte 0: 0x89)"),),
         hint=lit("hint: is it a binary file?"), kind="vars"),
    Case("vars-nul-bytes", sparse("vars.yml", 4096),
         (lit("vars.yml:1:1: --vars-file: U+0000 is a control character"),), kind="vars"),
    Case("vars-huge-sparse", sparse("vars.yml"),
         (lit("vars.yml:1: --vars-file: the file is larger than 1 MiB"),), heavy=True, kind="vars"),
    Case("vars-latin1", raw("vars.yml", b"email: a@example.com\nname: Gr\xe2ce\n"),
         (lit("vars.yml:2:9: --vars-file: not UTF-8 text (byte 29: 0xE2)"),), kind="vars"),
    Case("vars-utf16", text("vars.yml", "email: a@example.com\n", "utf-16"),
         (lit("vars.yml:1:1: --vars-file: not UTF-8 text (byte 0: 0xFF)"),), kind="vars"),
    Case("vars-a-list", text("vars.yml", "- email\n- a@example.com\n"),
         (lit("vars.yml:1: --vars-file: the file is a list; it must be a mapping of names to values"),),
         hint=lit("hint: write one NAME: value per line"), kind="vars"),
    Case("vars-a-single-value", text("vars.json", '"a@example.com"'),
         (lit("vars.json:1: --vars-file: the file is a single value"),), kind="vars"),
    Case("vars-with-a-bom-is-valid", raw("vars.yml", b"\xef\xbb\xbfemail: b@example.com\n"), (), code=0,
         kind="vars"),
    # (the messages of these belong to the YAML reader, playbook.source: here, where and how)
    Case("vars-alias-bomb", text("vars.yml", _bomb_mapping()), (r"vars\.yml:\d+(:\d+)?: \S",),
         heavy=True, kind="vars"),
    Case("vars-nested-100000-deep", text("vars.yml", "email: " + _deep_json(100_000) + "\n"),
         (r"vars\.yml:\d+(:\d+)?: .*(nest|deep)",), heavy=True, kind="vars"),
    Case("vars-yaml-syntax-error", text("vars.yml", "email: a@example.com\n  name: [unclosed\n"),
         (r"vars\.yml:2(:\d+)?: ",), kind="vars"),
]

SECRETS_CASES = [
    Case("secrets-dev-zero", outside("/dev/zero"),
         (lit("/dev/zero:1: --secrets-file: not a regular file: it is a character device"),),
         kind="secrets"),
    Case("secrets-fifo", fifo("secrets.env"),
         (lit("secrets.env:1: --secrets-file: not a regular file: it is a FIFO"),), kind="secrets"),
    Case("secrets-binary", raw("secrets.env", b"MKTOWS_ENCRYPTION_KEY=\xff\xfe" + CANARY.encode()),
         (lit("secrets.env:1:23: --secrets-file: not UTF-8 text (byte 22)"),), kind="secrets"),
    Case("secrets-line-without-equals",
         text("secrets.env", f"MKTOWS_ENCRYPTION_KEY=abcdefgh\n{CANARY}\n"),
         (lit("secrets.env:2: --secrets-file: expected NAME=VALUE"),), kind="secrets"),
    Case("secrets-yaml-null-value", text("secrets.yml", "MKTOWS_ENCRYPTION_KEY:\n"),
         (lit("secrets.yml:1:23: --secrets-file: MKTOWS_ENCRYPTION_KEY must be a text value"),),
         kind="secrets"),
    Case("secrets-yaml-mapping-value",
         text("secrets.yml", f"MKTOWS_ENCRYPTION_KEY: {{nested: {CANARY}}}\n"),
         (lit("secrets.yml:1:24: --secrets-file: MKTOWS_ENCRYPTION_KEY must be a text value"),),
         kind="secrets"),
    Case("secrets-huge-sparse", sparse("secrets.env"),
         (lit("secrets.env:1: --secrets-file: the file is larger than 1 MiB"),), heavy=True,
         kind="secrets"),
    Case("secrets-control-character", text("secrets.env", f"MKTOWS_ENCRYPTION_KEY={CANARY}\x07\n"),
         (lit("secrets.env:1:47: --secrets-file: U+0007 is a control character"),), kind="secrets"),
]

CASES = DATA_CASES + VARS_CASES + SECRETS_CASES


def test_the_corpus_is_large_and_its_names_unique() -> None:
    assert len(CASES) >= 35
    assert len({c.id for c in CASES}) == len(CASES)


# -- running a case ----------------------------------------------------------------------------

@dataclass
class Outcome:
    code: int
    out: str
    err: str


def _limit_memory() -> None:  # (in the child, before exec)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _subprocess(args: list[str], cwd: Path, env: dict[str, str], prefix: tuple[str, ...] = (),
                limit: bool = True) -> Outcome:
    proc = subprocess.run([*prefix, sys.executable, "-m", "runner", *args], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          preexec_fn=_limit_memory if limit else None, timeout=240, check=False)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def _secrets_command() -> list[str]:
    """`validate` takes --secrets-file where the CLI has it there; `run` always does (it fails
    before anything is sent: the endpoint is a closed local port)."""
    from runner.cli import validate

    if "secrets_file" in {p.name for p in validate.params}:
        return ["validate", "p.yml"]
    return ["run", "p.yml", "--retries", "0"]


DEAD_TARGET = {"MKTOWS_ENDPOINT": "http://127.0.0.1:9/", "MKTOWS_USER_ID": "u",
               "MKTOWS_ENCRYPTION_KEY": "never-used-key-0001"}


def _stage(case: Case, folder: Path) -> list[str]:
    name = case.make(folder)
    if case.kind == "data":
        (folder / "p.yml").write_text(_playbook(name, case.loop))
        return ["validate", "p.yml"]
    (folder / "p.yml").write_text(VARS_PLAYBOOK)
    if case.kind == "vars":
        return ["validate", "p.yml", "--vars-file", name]
    return [*_secrets_command(), "--secrets-file", name]


def _check(case: Case, res: Outcome, folder: Path) -> None:
    everything = res.out + res.err
    assert "Traceback" not in everything, everything
    assert "internal error" not in everything, everything
    assert CANARY not in everything
    assert res.code == case.code, everything
    lines = res.err.splitlines()
    for pattern in case.expect:
        assert any(re.match(pattern, line) for line in lines), (
            f"no line of stderr matches {pattern!r}:\n{res.err}")
    if case.hint is not None:
        first = next(i for i, line in enumerate(lines) if re.match(case.expect[0], line))
        assert first + 1 < len(lines) and re.match("    " + case.hint, lines[first + 1]), res.err
    if case.code == 0:
        assert "valid" in everything
    assert not (folder / "results.json").exists()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_hostile_input_gives_its_exit_code_and_a_located_message(case: Case, run_cli: Any,
                                                                   tmp_path: Path) -> None:
    args = _stage(case, tmp_path)
    env = DEAD_TARGET if case.kind == "secrets" else {}
    if case.heavy:
        res = _subprocess(args, tmp_path, env)
    else:
        got = run_cli(*args, env=env)
        res = Outcome(got.code, got.out, got.err)
    _check(case, res, tmp_path)


def _as_unprivileged(tmp_path: Path) -> tuple[str, ...]:
    """A command prefix under which a mode-000 file cannot be read (root reads anything)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: no file is unreadable")
    return (setpriv, "--bounding-set=-all", "--inh-caps=-all")


@pytest.mark.parametrize("kind", ["data", "vars"])
def test_an_unreadable_file_is_a_located_problem(kind: str, tmp_path: Path) -> None:
    case = Case("unreadable", text("leads.csv" if kind == "data" else "vars.yml",
                                   CSV_HEAD if kind == "data" else "email: b@example.com\n"),
                (), kind=kind)
    args = _stage(case, tmp_path)
    target = tmp_path / ("leads.csv" if kind == "data" else "vars.yml")
    target.chmod(0)
    try:
        res = _subprocess(args, tmp_path, {}, _as_unprivileged(tmp_path), limit=False)
    finally:
        target.chmod(0o644)
    want = (lit(AT_FILE + "data file leads.csv cannot be read: permission denied") if kind == "data"
            # (the command line refuses it before the reader: resume reads it with the reader)
            else r".*vars\.yml.*(is not readable|permission denied)")
    _check(Case("unreadable", case.make, (want,), kind=kind), res, tmp_path)


# -- a data file that changes between validation and the run -------------------------------

CHANGED = """\
steps:
  - id: first
    syncLead: {leadRecord: {Email: first@example.com}}
  - id: import
    loop: {file: leads.csv, columns: [{name: Email, required: true}]}
    getLead:
      leadKey: {keyType: EMAIL, keyValue: "${item.Email}"}
"""


def _gone(path: Path) -> None:
    path.unlink()


def _fifo_now(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _stray_quote(path: Path) -> None:
    path.write_text('Email\n"a@example.com\nb@example.com\n')


def _short_row(path: Path) -> None:
    path.write_text("Email,Country\na@example.com\n")


@pytest.mark.parametrize(("change", "message"), [
    (_gone, "leads.csv does not exist"),
    (_fifo_now, "leads.csv is a FIFO (named pipe), not a regular file"),
    (_stray_quote, "a quoted value that starts here is never closed"),
    (_short_row, "1 value for 2 columns"),
], ids=["deleted", "replaced-by-a-fifo", "stray-quote", "short-row"])
def test_a_data_file_that_changes_after_validation_fails_its_step_cleanly(
        change: Callable[[Path], None], message: str, sandbox: Any, tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text("Email\na@example.com\nb@example.com\n")
    (tmp_path / "p.yml").write_text("version: 1\n" + CHANGED)
    plan = prepare(RunOptions(playbook=tmp_path / "p.yml",
                              wsdl=str(ROOT / "schemas" / "mktows.wsdl"), sandbox=True))
    target = Target(sandbox.endpoint, sandbox.user_id, Secret(sandbox.encryption_key))
    changed = threading.Event()

    def observe(step: Any, call: Any) -> None:
        if not changed.is_set():  # after the first call: the data file is read next
            changed.set()
            change(tmp_path / "leads.csv")

    result = execute(plan, target, HttpTransport(), Sending(), observe=observe,
                     redactor=plan.redactor.with_values(target.encryption_key))
    steps = {s.id: s for s in result.steps}
    assert changed.is_set()
    assert steps["first"].status == "ok"
    assert steps["import"].status == "failed"
    failure = steps["import"].failure
    assert failure is not None and message in (failure.fault_message or "")
    # Nothing of the changed file was sent: the sandbox saw the first call only.
    assert box.open_store(sandbox.db_path).request_count() == 1
