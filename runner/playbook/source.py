"""YAML with a position for every node. The only importer of yaml.

Scalars follow YAML 1.2's core schema, not PyYAML's YAML 1.1 defaults: `NO`, `yes`, `on`
stay strings (a country code must not become false), `12:30` is not base-60 and dates stay
text. Duplicate keys are errors; anchors, aliases and `<<` merge keys work; `!literal` marks
a string that variable substitution must leave alone.
"""

from __future__ import annotations

import re
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
_MAX_DEPTH = 64


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema implicit types."""


_Loader.yaml_implicit_resolvers = {}
for tag, pattern, first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
):
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


class _Builder:
    def __init__(self, doc: Document, text: str) -> None:
        self.doc = doc
        self.text = text
        self.problems: list[Problem] = []

    def problem(self, node: Node, path: PathT, message: str, hint: str | None = None) -> None:
        mark = node.start_mark
        loc = Location(self.doc.file, mark.line + 1, mark.column + 1)
        self.problems.append(Problem(loc, json_path(path), message, hint))

    def build(self, node: Node, path: PathT, depth: int = 0) -> Any:
        self.doc.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if depth > _MAX_DEPTH:
            self.problem(node, path, "the document nests too deeply (recursive alias?)")
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(c, (*path, i), depth + 1) for i, c in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        return None  # pragma: no cover - yaml has no other node kinds

    def scalar(self, node: ScalarNode, path: PathT) -> Any:
        if node.tag == LITERAL_TAG:
            return Literal(node.value)
        kind = node.tag[len(_YAML):] if node.tag.startswith(_YAML) else None
        value = node.value
        if kind == "str":
            return value
        if kind == "null":
            return None
        if kind == "bool":
            return value.lower() == "true"
        if kind == "int":
            return int(value, 0) if value[:2] in ("0o", "0x") else int(value)
        if kind == "float":
            return float(value.lower().replace(".inf", "inf").replace(".nan", "nan"))
        self.problem(node, path, f"unsupported YAML tag {node.tag}",
                     f"only {LITERAL_TAG} is understood; remove the tag or quote the value")
        return value

    def mapping(self, node: MappingNode, path: PathT, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _YAML + "merge":
                merged.update(self.merge(value_node, path, depth))
                continue
            if isinstance(key_node, MappingNode | SequenceNode):
                self.unhashable_key(node, key_node, path)
                continue
            key = str(key_node.value)
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
        return {**merged, **out}

    def merge(self, node: Node, path: PathT, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for src in reversed(sources):  # earlier mappings in a merge list win
            if not isinstance(src, MappingNode):
                self.problem(src, path, "a << merge key needs a mapping or a list of mappings")
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


def load(path: Path, display: str | None = None) -> tuple[Document, list[Problem]]:
    """Parse a YAML file. A syntax error stops the parse and is the only problem returned."""
    name = display or str(path)
    doc = Document(name, None)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return doc, [Problem(Location(name, 1, 1), "", f"cannot read the file: {exc}")]
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        hint = "indent with spaces: YAML does not allow tabs" if "'\\t'" in what else None
        return doc, [Problem(loc, "", f"YAML syntax error: {what}", hint)]
    except yaml.YAMLError as exc:
        return doc, [Problem(Location(name, 1, 1), "", f"YAML error: {exc}")]
    if root is None:
        return doc, [Problem(Location(name, 1, 1), "", "the file is empty")]
    builder = _Builder(doc, text)
    doc.data = builder.build(root, ())
    return doc, builder.problems


def iter_items(path: Path, display: str) -> Iterator[tuple[int, Any]]:
    """Stream a YAML file whose document is a list: (line, item) one at a time."""
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
                node = loader.compose_node(None, None)  # type: ignore[arg-type]
                assert node is not None
                builder = _Builder(Document(display, None), "")
                value = builder.build(node, ())
                if builder.problems:
                    first = builder.problems[0]
                    raise LocatedError(first.location, first.message)
                yield node.start_mark.line + 1, value
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            raise LocatedError(Location(display, (mark.line + 1) if mark else 1, 1),
                               f"YAML syntax error: {exc.problem}") from None
        finally:
            loader.dispose()
