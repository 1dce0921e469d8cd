"""YAML with a position for every node. The only importer of yaml.

Scalars follow YAML 1.2's core schema, not PyYAML's YAML 1.1 defaults: `NO`, `yes`, `on`
stay strings (a country code must not become false), `12:30` is not base-60 and dates stay
text. Duplicate keys are errors; anchors, aliases and `<<` merge keys work; `!literal` marks
a string that variable substitution must leave alone. Any other tag is refused.

Input bounds (the README documents them): a playbook is read whole, so the file, its nesting
and what its aliases expand to are all capped; past a cap the load stops with one located
problem instead of running out of time, memory or stack.
"""

from __future__ import annotations

import codecs
import math
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.model import Literal, LocatedError, Location, Problem

PathT = tuple[str | int, ...]
LITERAL_TAG = "!literal"
_YAML = "tag:yaml.org,2002:"

# -- Input bounds ------------------------------------------------------------------------------
# A real playbook is a few KiB (the examples are under 2 KiB); long lists of leads belong in a
# data file (`loop: {file: ...}`), which is streamed. 256 KiB is ~100x a large playbook and
# still parses in well under a second with PyYAML's pure-Python parser (~3 us per byte).
MAX_FILE_BYTES = 256 * 1024
# Levels of nested mappings/lists, as written and after aliases are expanded. A playbook's
# deepest value (a group's step's record's attribute) sits ~12 levels down; the cap also keeps
# the recursive composer and every walker of the data far from Python's recursion limit.
MAX_DEPTH = 64
# Values (mappings, lists and scalars), counting an alias or a << merge at every use: stops
# "billion laughs" and merges that double at every level, which are tiny on disk. A 256 KiB
# playbook of inline records has ~15,000.
MAX_NODES = 50_000
# Characters of text after aliases are expanded (an alias of a long text used many times).
MAX_TEXT_CHARS = 4 * MAX_FILE_BYTES
# A number literal longer than this is refused (quote it if it is text): nothing Marketo takes
# is that long, and converting a number of thousands of digits is slow or an error.
MAX_NUMBER_CHARS = 64

# Characters XML 1.0 cannot carry (a body, a header or a JUnit report): C0 controls other than
# tab, LF and CR, lone surrogates, U+FFFE and U+FFFF.
UNSENDABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def describe_char(char: str) -> str:
    """`U+0001` for a character that cannot be shown as itself."""
    code = ord(char)
    extra = " (NUL)" if code == 0 else " (a lone surrogate)" if 0xD800 <= code <= 0xDFFF else ""
    return f"U+{code:04X}{extra}"


_PATTERNS = {
    "bool": (r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    "null": (r"^(?:~|null|Null|NULL|)$", "~nN"),
    "int": (r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    "float": (r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
}
_MATCH = {kind: re.compile(pattern) for kind, (pattern, _) in _PATTERNS.items()}
_NOUN = {"null": "null", "bool": "a boolean", "int": "an integer", "float": "a number"}


class _Bound(Exception):
    """An input bound was crossed: the load stops here with one problem."""

    def __init__(self, mark: Any, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message
        self.hint = hint


_DEEP_HINT = "a playbook is a few levels deep; look for unclosed [ or { or a runaway generator"
_BIG_HINT = ("aliases and << merges count at every use; put long lists in a data file "
             "(loop: {file: ...})")


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema implicit types and bounded composition."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        # PyYAML composes recursively: 10,000 nested `[` would be a RecursionError.
        self.nodes += 1
        if self.depth >= MAX_DEPTH or self.nodes > MAX_NODES:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            if self.depth >= MAX_DEPTH:
                raise _Bound(mark, f"the document nests more than {MAX_DEPTH} levels deep",
                             _DEEP_HINT)
            raise _Bound(mark, f"the document has more than {MAX_NODES:,} values", _BIG_HINT)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Loader.yaml_implicit_resolvers = {}
for tag, (pattern, first) in _PATTERNS.items():
    _Loader.add_implicit_resolver(_YAML + tag, re.compile(pattern), list(first))
_Loader.add_implicit_resolver(_YAML + "null", re.compile(r"^$"), [""])  # `key:` with no value
_Loader.add_implicit_resolver(_YAML + "merge", re.compile(r"^<<$"), ["<"])


@dataclass
class Document:
    """A parsed YAML file: plain Python data plus where each value and key came from."""

    file: str
    data: Any
    positions: dict[PathT, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathT, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: PathT, *, key: bool = False) -> Location:
        """The value's (or, with key=True, its key's) position; the nearest parent's if unknown."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return Location(self.file, *table[probe])
            if key:
                table = self.positions  # fall back to the enclosing value
            probe = probe[:-1]
        return Location(self.file, *self.positions.get((), (1, 1)))


def json_path(path: PathT) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag


class _Builder:
    """Nodes -> plain data, with positions; every value counted against the bounds.

    `check_text`: refuse text XML cannot carry (a playbook's or a vars file's values are
    sent or reported); a data file's rows are checked where they are used instead.
    """

    def __init__(self, doc: Document, text: str, *, check_text: bool = True) -> None:
        self.doc = doc
        self.text = text
        self.check_text = check_text
        self.problems: list[Problem] = []
        self.nodes = 0
        self.chars = 0
        self.active: set[int] = set()  # ids of the collections being built (recursion)

    def problem(self, node: Node, path: PathT, message: str, hint: str | None = None) -> None:
        mark = node.start_mark
        loc = Location(self.doc.file, mark.line + 1, mark.column + 1)
        self.problems.append(Problem(loc, json_path(path), message, hint))

    def count(self, node: Node) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Bound(node.start_mark, f"the document expands to more than {MAX_NODES:,} "
                         "values", _BIG_HINT)

    def build(self, node: Node, path: PathT, depth: int = 0) -> Any:
        self.count(node)
        self.doc.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if depth > MAX_DEPTH:
            self.problem(node, path, f"the document nests more than {MAX_DEPTH} levels deep "
                         "(through aliases)", _DEEP_HINT)
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            self.problem(node, path, "an alias refers to a value that contains it",
                         "an anchor cannot be used inside itself")
            return None
        if isinstance(node, SequenceNode):
            if node.tag != _YAML + "seq":
                return self.foreign(node, path)
            self.active.add(id(node))
            try:
                return [self.build(c, (*path, i), depth + 1) for i, c in enumerate(node.value)]
            finally:
                self.active.discard(id(node))
        if isinstance(node, MappingNode):
            if node.tag != _YAML + "map":
                return self.foreign(node, path)
            return self.mapping(node, path, depth)
        return None  # pragma: no cover - yaml has no other node kinds

    def foreign(self, node: Node, path: PathT) -> None:
        # Refused, not ignored: `!!python/object/apply:...` must never look accepted.
        what = "marks text only" if node.tag == LITERAL_TAG else "is not supported"
        self.problem(node, path, f"the YAML tag {_show_tag(node.tag)} {what}",
                     f"remove the tag; only {LITERAL_TAG} (on text) is understood")

    def scalar(self, node: ScalarNode, path: PathT) -> Any:
        value: str = node.value
        self.chars += len(value)
        if self.chars > MAX_TEXT_CHARS:
            raise _Bound(node.start_mark, f"the document expands to more than "
                         f"{MAX_TEXT_CHARS:,} characters of text", _BIG_HINT)
        if node.tag == LITERAL_TAG:
            self.text_ok(node, path, value)
            return Literal(value)
        kind = node.tag[len(_YAML):] if node.tag.startswith(_YAML) else None
        if kind == "str":
            self.text_ok(node, path, value)
            return value
        if kind not in _MATCH:
            self.foreign(node, path)
            return value
        if not _MATCH[kind].match(value):
            # Only an explicit tag gets here (`!!int one`): implicit ones matched already.
            # The value is not quoted: this reader also reads --secrets-file.
            self.problem(node, path, f"the value tagged {_show_tag(node.tag)} is not "
                         f"{_NOUN[kind]}", "remove the tag, or write a value of that type")
            return value
        if kind == "null":
            return None
        if kind == "bool":
            return value.lower() == "true"
        if len(value) > MAX_NUMBER_CHARS:
            self.problem(node, path, f"a number of {len(value)} characters is too long "
                         f"(at most {MAX_NUMBER_CHARS})", "quote it if it is text")
            return value
        if kind == "int":
            return int(value, 0) if value[:2] in ("0o", "0x") else int(value)
        number = float(value.lower().replace(".inf", "inf").replace(".nan", "nan"))
        if math.isnan(number) or math.isinf(number):
            self.problem(node, path, f"{value!r} is not a number that can be sent",
                         f"quote it if you mean the text: '{value}'")
            return value
        return number

    def text_ok(self, node: Node, path: PathT, value: str) -> None:
        bad = UNSENDABLE.search(value) if self.check_text else None
        if bad:
            self.problem(node, path, f"{describe_char(bad.group())} cannot be sent in XML",
                         "remove it: XML 1.0 carries tab, line feed, carriage return and "
                         "printable characters only")

    def key(self, node: Node, path: PathT) -> str | None:
        """A mapping key: always a name (text); anything else is a problem."""
        kind = node.tag[len(_YAML):] if node.tag.startswith(_YAML) else None
        value = str(node.value)
        where = json_path(path) or "the document"
        if kind in _NOUN and _MATCH[kind].match(value):  # a key YAML reads as null/bool/number
            shown = value or "an empty key"
            self.problem(node, path, f"a key of {where} must be a name, not {_NOUN[kind]} "
                         f"({shown})", f"quote it if it is a name: '{value}'" if value else
                         "write the name before the ':'")
            return None
        if kind not in ("str", *_NOUN) and node.tag != LITERAL_TAG:
            self.foreign(node, path)
            return None
        if kind in _NOUN:  # explicitly tagged, wrong shape: e.g. `!!int one: x`
            self.problem(node, path, f"a key of {where} must be a name, not tagged "
                         f"{_show_tag(node.tag)}", "remove the tag")
            return None
        if value == "":
            self.problem(node, path, f"a key of {where} is empty", "write a name")
            return None
        self.text_ok(node, (*path, value), value)
        return value

    def mapping(self, node: MappingNode, path: PathT, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:  # merges recurse here without passing through build
            self.problem(node, path, f"the document nests more than {MAX_DEPTH} levels deep "
                         "(through << merges)", _DEEP_HINT)
            return {}
        out: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        merged: dict[str, Any] = {}
        self.active.add(id(node))
        try:
            for key_node, value_node in node.value:
                self.count(key_node)
                if key_node.tag == _YAML + "merge":
                    merged.update(self.merge(key_node, value_node, path, depth))
                    continue
                if isinstance(key_node, MappingNode | SequenceNode):
                    self.unhashable_key(node, key_node, path)
                    continue
                key = self.key(key_node, path)
                if key is None:
                    continue
                if key in seen:
                    first = seen[key].start_mark
                    self.problem(key_node, (*path, key),
                                 f"duplicate key '{key}' (first at line {first.line + 1}, "
                                 f"column {first.column + 1})", "remove one of the two")
                    continue
                seen[key] = key_node
                sub = (*path, key)
                self.doc.key_positions[sub] = (key_node.start_mark.line + 1,
                                               key_node.start_mark.column + 1)
                out[key] = self.build(value_node, sub, depth + 1)
        finally:
            self.active.discard(id(node))
        return {**merged, **out}

    def merge(self, key: Node, node: Node, path: PathT, depth: int) -> dict[str, Any]:
        if node.tag not in (_YAML + "seq", _YAML + "map"):  # merging does not skip the tag check
            self.foreign(node, path)
            return {}
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for src in reversed(sources):  # earlier mappings in a merge list win
            if isinstance(src, MappingNode) and src.tag != _YAML + "map":
                self.foreign(src, path)
                continue
            if not isinstance(src, MappingNode):
                self.problem(src, path, "a << merge key needs a mapping or a list of mappings")
                continue
            if id(src) in self.active:  # reported at the `<<`: an alias has no place of its own
                self.problem(key, path, "a << merge refers to the mapping that contains it",
                             "a mapping cannot merge itself")
                continue
            merged.update(self.mapping(src, path, depth + 1))
        return merged

    def unhashable_key(self, parent: MappingNode, key_node: Node, path: PathT) -> None:
        # `{{my.message}}` unquoted is a flow mapping inside a flow mapping to YAML.
        snippet = self.text[parent.start_mark.index:parent.end_mark.index]
        token = re.search(r"\{\{[^{}]*\}\}", snippet)
        if token:
            self.problem(parent, path, f"YAML read the Marketo token {token.group(0)} as a "
                         "mapping", f"quote the token: \"{token.group(0)}\"")
        else:
            self.problem(key_node, path, "a mapping key must be a plain value, not a mapping "
                         "or a list", "quote the key")


def _line_col(text: str, index: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _looks_utf16(raw: bytes) -> bool:
    """UTF-16 text without a BOM: mostly ASCII, so every other byte is NUL."""
    sample = raw[:512]
    return len(sample) >= 4 and max(sample[0::2].count(0), sample[1::2].count(0)) * 4 >= len(
        sample)


_NOT_UTF8_HINT = "save the file as UTF-8"


def _read_bytes(path: Path, name: str, limit: int) -> tuple[bytes | None, Problem | None]:
    """The file's bytes, or why it cannot be a playbook: not a regular file, or too big.

    O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused right after.
    """
    start = Location(name, 1, 1)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return None, Problem(start, "", f"cannot read the file: {exc.strerror or exc}")
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            return None, Problem(start, "", "this is a folder, not a file")
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or
                stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "special")
        return None, Problem(start, "", f"not a regular file ({kind})",
                             "name a YAML file saved on disk")
    with os.fdopen(fd, "rb") as f:
        try:
            raw = f.read(limit + 1)  # never more than the bound, whatever st_size says
        except OSError as exc:
            return None, Problem(start, "", f"cannot read the file: {exc.strerror or exc}")
    if len(raw) > limit:
        return None, Problem(start, "", f"the file is larger than {limit // 1024} KiB, the "
                             "most a playbook may be", "put long lists in a data file "
                             "(loop: {file: ...}), which is streamed")
    return raw, None


def _decode(raw: bytes, name: str) -> tuple[str | None, Problem | None]:
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return None, Problem(Location(name, 1, 1), "", "the file is UTF-32 text", _NOT_UTF8_HINT)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
            b"\x00" in raw[:512] and _looks_utf16(raw)):
        return None, Problem(Location(name, 1, 1), "", "the file is UTF-16 text", _NOT_UTF8_HINT)
    raw = raw.removeprefix(codecs.BOM_UTF8)  # positions as an editor shows them
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        col = len(raw[line_start:exc.start].decode("utf-8", "replace")) + 1
        return None, Problem(Location(name, line, col), "",
                             f"byte 0x{raw[exc.start]:02X} is not UTF-8 text", _NOT_UTF8_HINT)


def _reader_problem(exc: yaml.reader.ReaderError, name: str, text: str) -> Problem:
    char = exc.character
    if isinstance(char, int):
        line, col = _line_col(text, exc.position)
        return Problem(Location(name, line, col), "",
                       f"{describe_char(chr(char))} is not allowed in a YAML file",
                       "is it a binary file? Control characters can only be written as "
                       "escapes in double quotes (\"\\t\")")
    return Problem(Location(name, 1, 1), "", f"YAML error: {exc}")


def load(path: Path, display: str | None = None) -> tuple[Document, list[Problem]]:
    """Parse a YAML file. A syntax error or a crossed bound stops the parse and is the only
    problem returned."""
    name = display or str(path)
    doc = Document(name, None)
    raw, problem = _read_bytes(path, name, MAX_FILE_BYTES)
    if raw is None:
        return doc, [problem] if problem else []
    text, problem = _decode(raw, name)
    if text is None:
        return doc, [problem] if problem else []
    try:
        root = yaml.compose(text, Loader=_Loader)
        if root is None:
            return doc, [Problem(Location(name, 1, 1), "", "the file is empty")]
        builder = _Builder(doc, text)
        doc.data = builder.build(root, ())
    except _Bound as exc:
        doc.data = None
        loc = Location(name, exc.mark.line + 1, exc.mark.column + 1)
        return doc, [Problem(loc, "", exc.message, exc.hint)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        hint = "indent with spaces: YAML does not allow tabs" if "'\\t'" in what else None
        return doc, [Problem(loc, "", f"YAML syntax error: {what}", hint)]
    except yaml.reader.ReaderError as exc:
        return doc, [_reader_problem(exc, name, text)]
    except yaml.YAMLError as exc:
        return doc, [Problem(Location(name, 1, 1), "", f"YAML error: {exc}")]
    return doc, builder.problems


def _stream_line(path: Path, position: int) -> int:
    """The line of the `position`-th character of a text file, read in bounded chunks."""
    line, seen = 1, 0
    with path.open(encoding="utf-8", errors="replace") as f:
        while seen < position:
            chunk = f.read(min(65536, position - seen))
            if not chunk:
                break
            line += chunk.count("\n")
            seen += len(chunk)
    return line


def iter_items(path: Path, display: str) -> Iterator[tuple[int, Any]]:
    """Stream a YAML file whose document is a list: (line, item) one at a time.

    Each item is bounded like a playbook (depth, values, text); the list's length is not.
    """
    with path.open(encoding="utf-8") as f:
        loader = _Loader(f)
        try:
            loader.get_event()  # type: ignore[no-untyped-call]  # stream start
            if loader.check_event(yaml.StreamEndEvent):
                return
            loader.get_event()  # type: ignore[no-untyped-call]  # document start
            if not loader.check_event(yaml.SequenceStartEvent):
                raise LocatedError(Location(display, 1, 1), "a YAML data file must be a list")
            loader.get_event()  # type: ignore[no-untyped-call]
            while not loader.check_event(yaml.SequenceEndEvent):
                loader.nodes = 0  # the bounds are per item
                loader.depth = 1
                node = loader.compose_node(None, None)  # type: ignore[arg-type]
                assert node is not None
                builder = _Builder(Document(display, None), "", check_text=False)
                try:
                    value = builder.build(node, ())
                except _Bound as exc:  # blame the item, not the anchor its aliases point at
                    raise LocatedError(Location(display, node.start_mark.line + 1, 0),
                                       exc.message.replace("the document", "the item")) from None
                if builder.problems:
                    first = builder.problems[0]
                    raise LocatedError(first.location, first.message)
                yield node.start_mark.line + 1, value
        except _Bound as exc:
            raise LocatedError(Location(display, exc.mark.line + 1, 0), exc.message) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            raise LocatedError(Location(display, (mark.line + 1) if mark else 1, 1),
                               f"YAML syntax error: {exc.problem}") from None
        except yaml.reader.ReaderError as exc:
            if not isinstance(exc.character, int):  # pragma: no cover - text streams decode
                raise LocatedError(Location(display, 1, 0), str(exc.reason)) from None
            line = _stream_line(path, exc.position)
            raise LocatedError(Location(display, line, 0), f"{describe_char(chr(exc.character))} "
                               "is not allowed in a YAML file") from None
        except yaml.YAMLError as exc:
            raise LocatedError(Location(display, 1, 0), f"YAML error: {exc}") from None
        finally:
            loader.dispose()
