"""Loop items: inline lists and data files (CSV, JSON, JSONL, YAML), streamed row by row, with
declared columns checked and converted on every row.

Files are never loaded whole: CSV and JSONL are read line by line, a JSON array through a
position-keeping reader, a YAML list one item at a time (playbook.source streams it). Every
read is bounded (see "Bounds"), so memory stays small whatever the file, and every way a file
can be broken ends in a located problem (`leads.csv:3: ...`), never an exception escaping.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from runner.errors import RunnerError
from runner.model import Column, LocatedError, Location

# -- Bounds (the README's "Input bounds" quotes these) -----------------------------------------
MIB = 1 << 20
# One CSV record (all its lines), one JSONL line or one JSON array item, in characters, blank
# lines before it included. A lead record is a few KB; this is what bounds memory per row.
MAX_RECORD_CHARS = 1 * MIB
MAX_COLUMNS = 1000  # columns in a CSV header (Marketo has a few hundred lead fields)
MAX_DEPTH = 64  # nesting of one JSON/JSONL item (a YAML item: playbook.source's bound)
MAX_NUMBER_CHARS = 100  # one JSON number, sign, point and exponent included
# YAML data is parsed by a pure-Python reader (about 0.3 MB/s) that keeps every anchor of the
# file: its files are capped by size, so a check takes seconds (use CSV or JSONL for big data).
# CSV, JSONL and JSON arrays are streamed: no size cap, no row cap.
MAX_YAML_BYTES = 1 * MIB
MAX_INPUT_FILE_BYTES = 1 * MIB  # a --vars-file or --secrets-file (runner.cli_inputs)

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".yml": "yaml", ".yaml": "yaml"}
PATH_HINT = "paths are relative to the folder the playbook is in"
_REGULAR_HINT = "save the data to a regular file and name that (a pipe or device cannot be checked)"

# Characters a YAML stream may not contain (YAML 1.2 c-printable, as PyYAML checks it).
NOT_YAML_TEXT = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Row(NamedTuple):
    """One loop item and where it came from (a file's line, or the playbook's). (A named
    tuple, not a frozen dataclass: one or two are made per row, at a third of the cost.)"""

    number: int  # 1-based item number
    where: Location
    value: Any


class RowError(LocatedError):
    """A data row that breaks its declared columns, or cannot be read; the next row can be."""

    def __init__(self, where: Location, message: str, hint: str | None = None) -> None:
        super().__init__(where, message)
        self.hint = hint


class DataFileError(LocatedError, RunnerError):
    """A data file that cannot be read (any further): gone, not a file, not text, broken.

    A LocatedError for the walker (a problem at its place), a RunnerError for everything else
    (e.g. a file that changed between validation and the run)."""

    def __init__(self, where: Location, message: str, hint: str | None = None) -> None:
        super().__init__(where, message)
        self.hint = hint


@dataclass(frozen=True)
class Unreadable:
    """The value of a row whose text is broken while the rows after it are fine (a short CSV
    row, a JSONL line that is not JSON): check_row reports it, so every bad row is listed."""

    message: str
    hint: str | None = None


def _convert(value: Any, column: Column) -> Any:
    if column.type == "string":
        return value if isinstance(value, str) else (None if value is None else str(value))
    if isinstance(value, str):
        text = value.strip()
        if column.type in ("integer", "number") and len(text) > MAX_NUMBER_CHARS:
            raise ValueError("too long")  # int() of thousands of digits is slow, then refused
        if column.type == "integer":
            return int(text)
        if column.type == "number":
            number = float(text)
            if not math.isfinite(number):
                raise ValueError("not finite")
            return number
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValueError("not true or false")
    if column.type == "boolean" and isinstance(value, bool):
        return value
    if column.type in ("integer", "number") and isinstance(value, int | float) and not isinstance(
            value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("not finite")
        return int(value) if column.type == "integer" and float(value).is_integer() else value
    raise ValueError(f"not {'an' if column.type == 'integer' else 'a'} {column.type}")


def check_row(row: Row, columns: tuple[Column, ...]) -> Row:
    """The row with declared columns converted; RowError naming the first bad column."""
    if isinstance(row.value, Unreadable):
        raise RowError(row.where, row.value.message, row.value.hint)
    if not columns:
        return row
    if not isinstance(row.value, dict):
        raise RowError(row.where, "the item is not a record with named fields")
    fields = dict(row.value)
    get = fields.get
    for column in columns:
        value = get(column.name)
        if type(value) is str and value and column.type == "string":
            continue  # text in a text column (the usual cell): as _convert would leave it
        if value is None or value == "":
            if column.required:
                missing = "missing" if column.name not in fields else "empty"
                raise RowError(row.where, f"{column.name} is {missing}")
            fields[column.name] = None
            continue
        try:
            fields[column.name] = _convert(value, column)
        except ValueError:
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise RowError(row.where, f"{column.name} is {shown}, not "
                           f"{'an' if column.type == 'integer' else 'a'} {column.type}") from None
    return Row(row.number, row.where, fields)


def file_format(path: Path, declared: str | None) -> str:
    fmt = declared or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the format of {path.name}; add format: csv|json|jsonl|yaml")
    return fmt


# -- opening ---------------------------------------------------------------------------------

def special_kind(mode: int) -> str | None:
    """What a file that is not a regular file is ('a FIFO (named pipe)'), or None."""
    if stat.S_ISREG(mode):
        return None
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def check_path(path: Path, name: str) -> tuple[str, str | None] | None:
    """Why a loop's data file cannot be read, as (message, hint), or None: the dry pass reports
    it at the playbook's `file:` (read_file checks again on the open file: it may change)."""
    try:
        mode = path.stat().st_mode  # follows symlinks: a link to /dev/zero is a device
    except (FileNotFoundError, NotADirectoryError):
        dangling = "is a broken symbolic link" if path.is_symlink() else "does not exist"
        return f"data file {name} {dangling}", PATH_HINT
    except OSError as exc:
        return f"data file path is unusable: {exc.strerror}", None
    kind = special_kind(mode)
    if kind is not None:
        return (f"data file {name} is {kind}, not a regular file",
                _REGULAR_HINT)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except OSError as exc:
        return f"data file {name} cannot be read: {_reason(exc)}", None
    return None


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def open_regular(path: Path, display: str) -> tuple[int, int]:
    """An open descriptor of `path` and its size; DataFileError unless it is a readable
    regular file. Never blocks: a FIFO is refused before anyone waits for its writer."""
    at = Location(display, 1, 0)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except (FileNotFoundError, NotADirectoryError):
        raise DataFileError(at, "the file does not exist (any more)", PATH_HINT) from None
    except OSError as exc:
        raise DataFileError(at, f"cannot read the file: {_reason(exc)}") from None
    try:
        info = os.fstat(fd)
        kind = special_kind(info.st_mode)
        if kind is not None:
            raise DataFileError(at, f"not a regular file: it is {kind}",
                                _REGULAR_HINT)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def _open_text(path: Path, display: str, newline: str | None) -> IO[str]:
    fd, _ = open_regular(path, display)
    # utf-8-sig: a byte-order mark some editors write is not part of the first value.
    return open(fd, encoding="utf-8-sig", newline=newline)  # the caller closes it


def bad_utf8(chunks: Iterator[bytes]) -> tuple[int, int, int] | None:
    """(byte offset, line, column) of the first byte that is not UTF-8, or None."""
    offset, line, line_start = 0, 1, 0
    pending = b""
    for chunk in chunks:
        data = pending + chunk
        try:
            data.decode("utf-8")
            good = len(data)
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data":  # a character split across chunks
                good = exc.start
            else:
                bad = offset + exc.start
                newlines = data.count(b"\n", 0, exc.start)
                if newlines:
                    line_start = offset + data.rindex(b"\n", 0, exc.start) + 1
                return bad, line + newlines, bad - line_start + 1
        newlines = data.count(b"\n", 0, good)
        if newlines:
            line_start = offset + data.rindex(b"\n", 0, good) + 1
        line += newlines
        offset += good
        pending = data[good:]
    return (offset, line, offset - line_start + 1) if pending else None


def _not_utf8(path: Path, display: str) -> DataFileError:
    """The problem for a file found not to be UTF-8: the bad byte, found again from the start
    (reading stops there: bounded by how far the reader had come)."""
    where = None
    try:
        with open(open_regular(path, display)[0], "rb") as f:
            where = bad_utf8(iter(lambda: f.read(1 << 16), b""))
    except (OSError, DataFileError):
        pass
    if where is None:  # the file changed under us: say what we know
        return DataFileError(Location(display, 1, 0), "not UTF-8 text; save the file as UTF-8")
    offset, line, _ = where
    return DataFileError(Location(display, line, 0),
                         f"not UTF-8 text (byte {offset}); save the file as UTF-8")


# -- CSV ---------------------------------------------------------------------------------------

class _Lines:
    """A text file's lines for csv.reader, each bounded; counts the characters of the record
    being read (blank lines before it included) so no record can grow without end."""

    def __init__(self, f: IO[str], display: str) -> None:
        self.f, self.display = f, display
        self._readline = f.readline
        self.number = 0  # lines read so far
        self.start = 0  # first line read for the record being read (blank or not; 0: none)
        self.first = 0  # first line of it that is not blank: where the record is
        self.chars = 0

    def next_record(self) -> None:
        self.start, self.first, self.chars = 0, 0, 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        # (Once per line: a few reads and writes of attributes, nothing more.)
        line = self._readline(MAX_RECORD_CHARS + 1)
        if not line:
            raise StopIteration
        number = self.number = self.number + 1
        if not self.first:  # a record that has begun has its start and first line already
            self.start = self.start or number
            if line.strip("\r\n"):
                self.first = number
        chars = self.chars = self.chars + len(line)
        if chars > MAX_RECORD_CHARS:  # (a line past the bound is past it too)
            if len(line) > MAX_RECORD_CHARS:
                raise DataFileError(Location(self.display, number, 0),
                                    f"the line is longer than {MAX_RECORD_CHARS:,} characters",
                                    "a data file holds records of a few KB; is it the right "
                                    "file?")
            if not self.first:
                raise DataFileError(Location(self.display, self.start, 0),
                                    f"more than {MAX_RECORD_CHARS:,} characters of blank lines")
            raise DataFileError(Location(self.display, self.first, 0),
                                f"the record that starts here runs past {MAX_RECORD_CHARS:,} "
                                f"characters (to line {number})",
                                _STRAY_QUOTE)
        return line


_STRAY_QUOTE = ('a value that starts with " runs until the next lone "; write a " inside a '
                'quoted value as "", or quote the whole value')


def _csv_error(exc: csv.Error, lines: _Lines) -> DataFileError:
    text = str(exc)
    if "unexpected end of data" in text:
        return DataFileError(Location(lines.display, lines.first or lines.number, 0),
                             "a quoted value that starts here is never closed", _STRAY_QUOTE)
    if "expected after" in text:
        return DataFileError(Location(lines.display, lines.number, 0),
                             f"text after the closing quote of a value ({text})", _STRAY_QUOTE)
    return DataFileError(Location(lines.display, lines.first or lines.number, 0),
                         f"not CSV: {text}")


def _csv(path: Path, display: str, delimiter: str) -> Iterator[Row]:
    if delimiter in ('"', "\r", "\n"):
        raise DataFileError(Location(display, 1, 0), f"the delimiter {delimiter!r} cannot "
                            "separate CSV values", "use , ; | or a tab")
    # Fields are bounded by MAX_RECORD_CHARS through _Lines; csv's own limit must not be lower.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_CHARS + 1))
    with _open_text(path, display, newline="") as f:
        lines = _Lines(f, display)
        # strict: `"Ada"x` is an error, not the value `Adax`.
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        header: list[str] | None = None
        n = 0
        while True:
            try:
                values = next(reader, None)
            except csv.Error as exc:
                raise _csv_error(exc, lines) from None
            if values is None:
                return
            if not values:
                continue  # a blank line (its characters still count toward the next record)
            where = Location(display, lines.first, 0)
            lines.next_record()
            if header is None:
                header = _header(values, where)
                continue
            n += 1
            if len(values) != len(header):
                yield Row(n, where, _count_mismatch(len(values), len(header), delimiter))
            else:
                yield Row(n, where, dict(zip(header, values, strict=False)))  # (same length)


def _header(names: list[str], where: Location) -> list[str]:
    if len(names) > MAX_COLUMNS:
        raise DataFileError(where, f"the header has {len(names):,} columns; at most "
                            f"{MAX_COLUMNS:,} are read")
    seen: dict[str, int] = {}
    for i, name in enumerate(names, 1):
        if not name.strip():
            raise DataFileError(where, f"header column {i} has no name")
        if name in seen:
            # The last column would silently win: data going to the wrong field.
            raise DataFileError(where, f"header column {i} '{name}' repeats column {seen[name]}",
                                "give every column its own name")
        seen[name] = i
    return names


def _count_mismatch(got: int, want: int, delimiter: str) -> Unreadable:
    message = f"{got} value{'' if got == 1 else 's'} for {want} columns"
    if got < want:
        return Unreadable(message, f"every row needs one value per column; leave a value empty "
                          f"with nothing between two {delimiter!r}")
    return Unreadable(message, f"quote a value that contains {delimiter!r}: \"a{delimiter} b\"")


# -- JSON and JSONL ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _BadNumber:
    """A number JSON may write but Python cannot hold faithfully (kept to report, not raised,
    so the reader knows where the item ends)."""

    text: str


def _int(text: str) -> int | _BadNumber:
    return int(text) if len(text) <= MAX_NUMBER_CHARS else _BadNumber(text)


def _float(text: str) -> float | _BadNumber:
    if len(text) > MAX_NUMBER_CHARS:
        return _BadNumber(text)
    value = float(text)
    return value if math.isfinite(value) else _BadNumber(text)


_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_BadNumber)


def _item_problem(value: Any) -> str | None:
    """What makes a decoded item unusable (too deep, a number out of bounds), or None."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, _BadNumber):
            if item.text in ("NaN", "Infinity", "-Infinity"):
                return f"{item.text} is not a JSON number"
            if len(item.text) > MAX_NUMBER_CHARS:
                return (f"a number of {len(item.text):,} characters (at most "
                        f"{MAX_NUMBER_CHARS}); write a long code as a string")
            return f"the number {item.text} is out of range"
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                return f"the item nests more than {MAX_DEPTH} levels deep"
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return None


_TOO_DEEP = f"the item nests more than {MAX_DEPTH} levels deep"


def _jsonl(path: Path, display: str) -> Iterator[Row]:
    with _open_text(path, display, newline=None) as f:
        lines = _Lines(f, display)
        n = 0
        for line in lines:
            if not line.strip():
                continue  # (its characters count toward the next line's bound)
            lines.next_record()
            n += 1
            where = Location(display, lines.number, 0)
            try:
                value: Any = _DECODER.decode(line.rstrip("\r\n"))  # (columns on this line)
            except json.JSONDecodeError as exc:
                yield Row(n, Location(display, lines.number, exc.colno), Unreadable(
                    f"not JSON: {exc.msg}",
                    _json_hint(exc.msg) or "JSONL holds one JSON value per line"))
                continue
            except RecursionError:
                yield Row(n, where, Unreadable(_TOO_DEEP))
                continue
            problem = _item_problem(value)
            yield Row(n, where, Unreadable(problem) if problem else value)


def _json_hint(message: str) -> str | None:
    if message.startswith("Invalid control character"):
        return ('a string cannot hold a line break or control character: write \\n, or close '
                'the string (a stray "?)')
    return None


_SPACE = re.compile(r"[ \t\n\r]*")


class _JsonArray:
    """Streams the items of a top-level JSON array with the line each starts on, holding at
    most one item (MAX_RECORD_CHARS) and a read chunk in memory.

    (ijson streams too, but reports no positions; a bad row must be named by its line.)
    """

    CHUNK = 1 << 16

    def __init__(self, f: IO[str], display: str) -> None:
        self.f, self.display = f, display
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False  # line: that of buf[pos]
        self.gap = 0  # characters skipped since the last item (blank space is bounded too)

    def _fill(self) -> bool:
        """Drop what is consumed, read a chunk; False at the end of the file."""
        if self.eof:
            return False
        chunk = self.f.read(self.CHUNK)
        self.buf, self.pos = self.buf[self.pos:] + chunk, 0
        self.eof = not chunk
        return bool(chunk)

    def _advance(self, end: int) -> None:
        self.line += self.buf.count("\n", self.pos, end)
        self.pos = end

    def _skip_space(self) -> str:
        """The next character that is not white space ('' at the end of the file)."""
        while True:
            end = _SPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            self.gap += end - self.pos
            self._advance(end)
            if self.gap > MAX_RECORD_CHARS:
                raise DataFileError(self._where(), f"more than {MAX_RECORD_CHARS:,} characters "
                                    "of white space")
            if self.pos < len(self.buf) or not self._fill():
                return self.buf[self.pos:self.pos + 1]

    def _where(self, at: int | None = None) -> Location:
        extra = 0 if at is None else self.buf.count("\n", self.pos, at)
        return Location(self.display, self.line + extra, 0)

    def _decode(self) -> Any:
        """The item at self.pos, reading more of the file while it may be cut off."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
                # A number at the buffer's end may go on in the next chunk (`1.5` + `e3`).
                if self.eof or end < len(self.buf) - 64:
                    self._advance(end)
                    return value
                self._fill()
                continue
            except RecursionError:
                raise DataFileError(self._where(), _TOO_DEEP) from None
            except json.JSONDecodeError as exc:
                # Only an error at the end of what was read, or a string still open, may be
                # the chunk's end rather than the file's mistake.
                cut = exc.pos >= len(self.buf) - 8 or exc.msg.startswith("Unterminated string")
                if not cut or self.eof:
                    raise DataFileError(self._where(exc.pos), f"not JSON: {exc.msg}",
                                        _json_hint(exc.msg)) from None
            if len(self.buf) - self.pos > MAX_RECORD_CHARS:
                raise DataFileError(self._where(), "the item that starts here runs past "
                                    f"{MAX_RECORD_CHARS:,} characters",
                                    'a string with a stray " runs to the next one; write \\" '
                                    "inside a string")
            self._fill()

    def items(self) -> Iterator[tuple[Location, Any]]:
        if self._skip_space() != "[":
            raise DataFileError(self._where(), "a JSON data file must be an array of items")
        self._advance(self.pos + 1)
        first = True
        while True:
            char = self._skip_space()
            if char == "]":
                self._advance(self.pos + 1)
                if self._skip_space():
                    raise DataFileError(self._where(), "text after the end of the array",
                                        "a JSON data file holds one array")
                return
            if not char:
                raise DataFileError(self._where(), "not JSON: the array is not closed (no ']')")
            if not first:
                if char != ",":
                    raise DataFileError(self._where(), "expected ',' or ']' between items")
                self._advance(self.pos + 1)
                self._skip_space()
            first = False
            where = self._where()
            value = self._decode()
            self.gap = 0
            yield where, value


def _json(path: Path, display: str) -> Iterator[Row]:
    with _open_text(path, display, newline=None) as f:
        for n, (where, item) in enumerate(_JsonArray(f, display).items(), 1):
            problem = _item_problem(item)
            yield Row(n, where, Unreadable(problem) if problem else item)


# -- YAML --------------------------------------------------------------------------------------

YamlReader = Callable[[Path, str], Iterator[tuple[int, Any]]]


def check_text(text: str, display: str, what: str) -> DataFileError | None:
    """The first character a YAML file may not hold (a control character), located."""
    found = NOT_YAML_TEXT.search(text)
    if found is None:
        return None
    line = text.count("\n", 0, found.start()) + 1
    col = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return DataFileError(Location(display, line, col),
                         f"U+{ord(found.group()):04X} is a control character, not allowed in "
                         f"{what}", 'write it as an escape in a double-quoted string ("\\x01") '
                         "or remove it")


def _yaml(path: Path, display: str, yaml_items: YamlReader) -> Iterator[Row]:
    fd, size = open_regular(path, display)
    with open(fd, "rb") as f:
        if size > MAX_YAML_BYTES:
            raise DataFileError(Location(display, 1, 0), f"the file is {size:,} bytes; a YAML "
                                f"data file may be at most {MAX_YAML_BYTES // MIB} MiB",
                                "use CSV or JSONL for big data: they are streamed")
        raw = f.read(MAX_YAML_BYTES + 1)
    if len(raw) > MAX_YAML_BYTES:
        raise DataFileError(Location(display, 1, 0), f"the file grew past {MAX_YAML_BYTES // MIB}"
                            " MiB while it was read")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_utf8(path, display) from None
    # The YAML reader stops on these with no position; find them first, with one.
    problem = check_text(text, display, "a YAML file")
    if problem is not None:
        raise problem
    del raw, text
    last = 0
    try:
        for n, (line, item) in enumerate(yaml_items(path, display), 1):
            last = line
            yield Row(n, Location(display, line, 0), item)
    except LocatedError as exc:
        if isinstance(exc, DataFileError | RowError):
            raise
        raise DataFileError(exc.where, exc.message) from None
    except RecursionError:
        raise DataFileError(Location(display, max(last, 1), 0),
                            f"an item after line {last} nests too deeply" if last else
                            "the list nests too deeply") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise DataFileError(Location(display, max(last, 1), 0),
                            f"cannot read the item after line {last}: {str(exc)[:200]}") from None
    except Exception as exc:
        # The YAML parser's own errors (playbook.source owns yaml): located as well as we can.
        if not type(exc).__module__.startswith("yaml"):
            raise
        raise DataFileError(Location(display, max(last, 1), 0),
                            f"YAML error after line {last}: {str(exc).splitlines()[0][:200]}"
                            ) from None


# -- any file ----------------------------------------------------------------------------------

def read_file(path: Path, display: str, fmt: str, delimiter: str,
              yaml_items: YamlReader) -> Iterator[Row]:
    """Stream a data file's items. `yaml_items` is the YAML owner's streaming reader.

    Raises DataFileError when the file cannot be read any further (its rows so far were
    yielded); a row that is broken while the next can still be read comes as an Unreadable
    value, reported by check_row."""
    try:
        if fmt == "csv":
            yield from _csv(path, display, delimiter)
        elif fmt == "jsonl":
            yield from _jsonl(path, display)
        elif fmt == "json":
            yield from _json(path, display)
        else:
            yield from _yaml(path, display, yaml_items)
    except UnicodeDecodeError:
        raise _not_utf8(path, display) from None
    except OSError as exc:  # e.g. EIO; a file that vanished was refused on open
        raise DataFileError(Location(display, 1, 0), f"cannot read: {_reason(exc)}") from None
