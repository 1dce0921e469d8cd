"""Reading --vars-file and --secrets-file (no click: session.py reads them again on resume).

Either file is small, bounded (data.MAX_INPUT_FILE_BYTES) and must be a regular UTF-8 text
file; anything else is a located problem naming the file (exit 2), read in bounded time and
memory, never an exception escaping. A secret's value never appears in a message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.data import (
    MAX_INPUT_FILE_BYTES,
    MIB,
    PATH_HINT,
    DataFileError,
    bad_utf8,
    check_text,
    open_regular,
)
from runner.errors import PlaybookError
from runner.model import Location, Problem

_YAML_SUFFIXES = (".yml", ".yaml", ".json")


def _problem(path: Path, message: str, hint: str | None = None, line: int = 1,
             col: int = 0) -> PlaybookError:
    return PlaybookError([Problem(Location(str(path), line, col), "", message, hint)])


def _read_text(path: Path, option: str) -> str:
    try:
        fd, size = open_regular(path, str(path))
    except DataFileError as exc:  # (its hint about playbook-relative paths is not for us)
        raise _problem(path, f"{option}: {exc.message}",
                       None if exc.hint == PATH_HINT else exc.hint) from None
    with open(fd, "rb") as f:
        # The size is checked before reading and the read is capped (the file may be growing).
        raw = f.read(MAX_INPUT_FILE_BYTES + 1) if size <= MAX_INPUT_FILE_BYTES else b""
    if size > MAX_INPUT_FILE_BYTES or len(raw) > MAX_INPUT_FILE_BYTES:
        raise _problem(path, f"{option}: the file is larger than {MAX_INPUT_FILE_BYTES // MIB} "
                       "MiB; it should hold a few names and values")
    bad = bad_utf8(iter((raw,)))
    if bad is not None:
        offset, line, col = bad
        # (a secrets file's bytes are not shown: they may be part of a secret)
        shown = f": 0x{raw[offset]:02X}" if option == "--vars-file" and offset < len(raw) else ""
        raise _problem(path, f"{option}: not UTF-8 text (byte {offset}{shown})",
                       "is it a binary file? save the file as UTF-8 text", line, col)
    text = raw.decode("utf-8").removeprefix("\ufeff")  # (a BOM some editors write)
    control = check_text(text, str(path), "this file")
    if control is not None:
        raise _problem(path, f"{option}: {control.message}; is it a binary file?", None,
                       control.where.line, control.where.col)
    return text


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """A --vars-file / --secrets-file: YAML or JSON mapping, or KEY=VALUE lines (dotenv)."""
    from runner.playbook.source import load

    option = "--secrets-file" if what == "secrets" else "--vars-file"
    text = _read_text(path, option)
    if what == "secrets" and path.suffix not in _YAML_SUFFIXES:
        return _dotenv(path, text)
    try:
        # (load reads the file again: it was just checked to be a small regular file.)
        doc, problems = load(path)
    except RecursionError:
        raise _problem(path, f"{option}: the document nests too deeply") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits (the YAML reader's)
        detail = "" if what == "secrets" else f": {str(exc)[:200]}"  # may quote a secret
        raise _problem(path, f"{option}: cannot read the YAML{detail}") from None
    if problems and what == "secrets":
        # The loader's messages quote values ('x' is not an integer): a secret's, here.
        raise PlaybookError([Problem(p.location, p.path, f"{option}: this value cannot be read "
                                     "as YAML text", "quote the value as a plain string")
                             for p in problems])
    if problems:
        raise PlaybookError(problems)
    if not isinstance(doc.data, dict):
        kind = "a list" if isinstance(doc.data, list) else "a single value"
        raise _problem(path, f"{option}: the file is {kind}; it must be a mapping of names to "
                       "values", "write one NAME: value per line")
    out: dict[str, Any] = {}
    for key, value in doc.data.items():
        # A secret is text: `KEY:` (null), true or a mapping would become 'None', 'True', ...
        if what == "secrets" and (isinstance(value, bool) or not isinstance(value, str | int | float)):
            where = doc.locate((key,))
            raise _problem(path, f"{option}: {key} must be a text value",
                           "quote the value", where.line, where.col)
        out[str(key)] = value
    return out


def _dotenv(path: Path, text: str) -> dict[str, str]:
    pairs = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        name = name.strip()
        if not sep or not name:
            # (never quote the line: it may be a secret)
            raise _problem(path, "--secrets-file: expected NAME=VALUE", None, n)
        if not name.replace("_", "a").isalnum() or name[0].isdigit():
            # (never quoted either: a line of a bare secret with '=' in it would show a part)
            raise _problem(path, "--secrets-file: the text before = is not a variable name",
                           "names are letters, digits and _", n)
        pairs[name] = value.strip().strip("'\"")
    return pairs
