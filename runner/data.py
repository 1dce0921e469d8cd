"""Loop items: inline lists and data files (CSV, JSON, JSONL, YAML), streamed row by row, with
declared columns checked and converted on every row.

Files are never loaded whole: CSV and JSONL are read line by line, a JSON array through a
position-keeping reader, a YAML list one item at a time (playbook.source streams it).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from runner.model import Column, LocatedError, Location

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".yml": "yaml", ".yaml": "yaml"}


@dataclass(frozen=True)
class Row:
    """One loop item and where it came from (a file's line, or the playbook's)."""

    number: int  # 1-based item number
    where: Location
    value: Any


class RowError(LocatedError):
    """A data row that breaks its declared columns."""


def _convert(value: Any, column: Column) -> Any:
    if column.type == "string":
        return value if isinstance(value, str) else (None if value is None else str(value))
    if isinstance(value, str):
        text = value.strip()
        if column.type == "integer":
            return int(text)
        if column.type == "number":
            return float(text)
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValueError("not true or false")
    if column.type == "boolean" and isinstance(value, bool):
        return value
    if column.type in ("integer", "number") and isinstance(value, int | float) and not isinstance(
            value, bool):
        return int(value) if column.type == "integer" and float(value).is_integer() else value
    raise ValueError(f"not {'an' if column.type == 'integer' else 'a'} {column.type}")


def check_row(row: Row, columns: tuple[Column, ...]) -> Row:
    """The row with declared columns converted; RowError naming the first bad column."""
    if not columns:
        return row
    if not isinstance(row.value, dict):
        raise RowError(row.where, "the item is not a record with named fields")
    fields = dict(row.value)
    for column in columns:
        value = fields.get(column.name)
        if value is None or value == "":
            if column.required:
                missing = "missing" if column.name not in fields else "empty"
                raise RowError(row.where, f"{column.name} is {missing}")
            fields[column.name] = None
            continue
        try:
            fields[column.name] = _convert(value, column)
        except ValueError:
            raise RowError(row.where, f"{column.name} is {value!r}, not "
                           f"{'an' if column.type == 'integer' else 'a'} {column.type}") from None
    return Row(row.number, row.where, fields)


def file_format(path: Path, declared: str | None) -> str:
    fmt = declared or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the format of {path.name}; add format: csv|json|jsonl|yaml")
    return fmt


def _csv(path: Path, display: str, delimiter: str) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        if reader.fieldnames is None:
            return
        blank = [i for i, name in enumerate(reader.fieldnames) if not name.strip()]
        if blank:
            raise RowError(Location(display, 1, 1), f"header column {blank[0] + 1} has no name")
        for n, record in enumerate(reader, 1):
            if None in record:
                raise RowError(Location(display, reader.line_num, 0),
                               f"{len(reader.fieldnames) + len(record[None])} values for "
                               f"{len(reader.fieldnames)} columns")
            yield Row(n, Location(display, reader.line_num, 0), record)


def _jsonl(path: Path, display: str) -> Iterator[Row]:
    with path.open(encoding="utf-8") as f:
        n = 0
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            n += 1
            try:
                yield Row(n, Location(display, line_no, 0), json.loads(line))
            except json.JSONDecodeError as exc:
                raise RowError(Location(display, line_no, exc.colno), f"not JSON: {exc.msg}") from None


class _JsonArray:
    """Streams the items of a top-level JSON array with the line each starts on.

    (ijson streams too, but reports no positions; a bad row must be named by its line.)
    """

    def __init__(self, f: TextIO, display: str) -> None:
        self.f, self.display = f, display
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False
        self.decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        chunk = self.f.read(1 << 16)
        self.line += self.buf.count("\n", 0, self.pos)
        self.buf, self.pos = self.buf[self.pos:] + chunk, 0
        self.eof = not chunk
        return bool(chunk)

    def _skip_space(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf) or not self._fill():
                return self.buf[self.pos:self.pos + 1]

    def _where(self) -> Location:
        return Location(self.display, self.line + self.buf.count("\n", 0, self.pos), 0)

    def items(self) -> Iterator[tuple[Location, Any]]:
        if self._skip_space() != "[":
            raise RowError(self._where(), "a JSON data file must be an array of items")
        self.pos += 1
        first = True
        while True:
            char = self._skip_space()
            if char == "]":
                return
            if not first:
                if char != ",":
                    raise RowError(self._where(), "expected ',' or ']' between items")
                self.pos += 1
                self._skip_space()
            first = False
            where = self._where()
            while True:
                try:
                    value, end = self.decoder.raw_decode(self.buf, self.pos)
                    if end < len(self.buf) or self.eof or not self._fill():
                        break  # (a value ending at the buffer's end may go on: a number)
                    continue
                except json.JSONDecodeError as exc:
                    if self.eof or not self._fill():
                        raise RowError(where, f"not JSON: {exc.msg}") from None
            self.pos = end
            yield where, value


def _json(path: Path, display: str) -> Iterator[Row]:
    with path.open(encoding="utf-8") as f:
        for n, (where, item) in enumerate(_JsonArray(f, display).items(), 1):
            yield Row(n, where, item)


YamlReader = Callable[[Path, str], Iterator[tuple[int, Any]]]


def read_file(path: Path, display: str, fmt: str, delimiter: str,
              yaml_items: YamlReader) -> Iterator[Row]:
    """Stream a data file's items. `yaml_items` is the YAML owner's streaming reader."""
    try:
        if fmt == "csv":
            yield from _csv(path, display, delimiter)
        elif fmt == "jsonl":
            yield from _jsonl(path, display)
        elif fmt == "json":
            yield from _json(path, display)
        else:
            for n, (line, item) in enumerate(yaml_items(path, display), 1):
                yield Row(n, Location(display, line, 0), item)
    except UnicodeDecodeError as exc:
        raise LocatedError(Location(display, 1, 0), f"not UTF-8 text (byte {exc.start}); save "
                           "the file as UTF-8") from None
    except OSError as exc:
        raise LocatedError(Location(display, 1, 0), f"cannot read: {exc.strerror}") from None
