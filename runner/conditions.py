"""`when:` conditions: a small, side-effect-free grammar, parsed at load.

    expr := or ; or := and ("or" and)* ; and := not ("and" not)* ; not := "not" not | cmp
    cmp  := atom (("==" | "!=" | "in" | "not in") atom)?
    atom := ${ref} | 'text' | "text" | number | true | false | null | [atom, ...] | ( expr )

Nothing is called and nothing is assigned: a condition can only compare values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.variables import Pending, Ref, VariableSyntaxError, parse

_TOKEN = re.compile(r"""\s*(?:(?P<ref>\$\{[^}]*\})|(?P<str>'[^']*'|"[^"]*")|"""
                    r"""(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|\(|\)|\[|\]|,)|(?P<word>[A-Za-z_]+))""")
_WORDS = {"and", "or", "not", "in", "true", "false", "null"}


class ConditionError(ValueError):
    pass


class Unknown:
    """The condition depends on a value only known at run time."""

    def __init__(self, step: str) -> None:
        self.step = step


Node = tuple[Any, ...]


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConditionError(f"unexpected {text[pos:].strip()[:12]!r} in condition")
        kind = m.lastgroup or ""
        value: Any = m.group(kind)
        if kind == "ref":
            parts = parse(value)
            if len(parts) != 1 or not isinstance(parts[0], Ref):
                raise ConditionError(f"bad reference {value}")
            value = parts[0]
        elif kind == "str":
            value = value[1:-1]
        elif kind == "num":
            value = float(value) if "." in value else int(value)
        elif kind == "word" and value not in _WORDS:
            raise ConditionError(f"unknown word {value!r} in condition",)
        out.append((kind, value))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, *values: str) -> bool:
        return self.pos < len(self.tokens) and self.tokens[self.pos][1] in values and (
            self.tokens[self.pos][0] in ("op", "word"))

    def take(self) -> tuple[str, Any]:
        if self.pos >= len(self.tokens):
            raise ConditionError("the condition ends too early")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expr(self) -> Node:
        node = self.conj()
        while self.peek("or"):
            self.take()
            node = ("or", node, self.conj())
        return node

    def conj(self) -> Node:
        node = self.neg()
        while self.peek("and"):
            self.take()
            node = ("and", node, self.neg())
        return node

    def neg(self) -> Node:
        if self.peek("not"):
            self.take()
            return ("not", self.neg())
        return self.cmp()

    def cmp(self) -> Node:
        left = self.atom()
        if self.peek("==", "!=", "in"):
            return (self.take()[1], left, self.atom())
        if self.peek("not") and self.pos + 1 < len(self.tokens) and self.tokens[self.pos + 1] == (
                "word", "in"):
            self.pos += 2
            return ("not", ("in", left, self.atom()))
        return left

    def atom(self) -> Node:
        kind, value = self.take()
        if kind == "ref":
            return ("ref", value)
        if kind in ("str", "num"):
            return ("lit", value)
        if kind == "word" and value in ("true", "false", "null"):
            return ("lit", {"true": True, "false": False, "null": None}[value])
        if value == "(":
            node = self.expr()
            if not self.peek(")"):
                raise ConditionError("missing ')'")
            self.take()
            return node
        if value == "[":
            items: list[Node] = []
            while not self.peek("]"):
                items.append(self.atom())
                if not self.peek("]") and self.take()[1] != ",":
                    raise ConditionError("expected ',' in a list")
            self.take()
            return ("list", items)
        raise ConditionError(f"unexpected {value!r} in condition")


@dataclass(frozen=True)
class Condition:
    text: str
    tree: Node

    def refs(self) -> list[Ref]:
        found: list[Ref] = []

        def visit(node: Node) -> None:
            if node[0] == "ref":
                found.append(node[1])
            elif node[0] == "list":
                for item in node[1]:
                    visit(item)
            elif node[0] != "lit":
                for child in node[1:]:
                    visit(child)

        visit(self.tree)
        return found

    def evaluate(self, lookup: Callable[[Ref], Any]) -> bool | Unknown:
        value = _eval(self.tree, lookup)
        return value if isinstance(value, Unknown) else bool(value)


def compile_condition(text: str | bool) -> Condition:
    if isinstance(text, bool):
        return Condition(str(text).lower(), ("lit", text))
    if not isinstance(text, str):
        raise ConditionError(f"a condition is text or true/false, not {type(text).__name__}")
    try:
        parser = _Parser(_tokens(text))
        tree = parser.expr()
    except VariableSyntaxError as exc:
        raise ConditionError(str(exc)) from None
    if parser.pos != len(parser.tokens):
        raise ConditionError(f"unexpected {parser.tokens[parser.pos][1]!r} after a complete condition")
    return Condition(text, tree)


def _eval(node: Node, lookup: Callable[[Ref], Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "ref":
        value = lookup(node[1])
        return Unknown(value.step) if isinstance(value, Pending) else value
    if kind == "list":
        return [_eval(n, lookup) for n in node[1]]
    args = [_eval(n, lookup) for n in node[1:]]
    unknown = next((a for a in args if isinstance(a, Unknown)), None)
    if kind == "not":
        return unknown or not args[0]
    if kind in ("and", "or"):
        # Short-circuit on a known value, as a reader would expect.
        left, right = args
        if kind == "and" and not isinstance(left, Unknown) and not left:
            return False
        if kind == "or" and not isinstance(left, Unknown) and left:
            return True
        return unknown or right
    if unknown:
        return unknown
    if kind == "==":
        return args[0] == args[1]
    if kind == "!=":
        return args[0] != args[1]
    right = args[1]
    if isinstance(right, list | str | dict):
        return args[0] in right
    raise ConditionError(f"'in' needs a list or text on its right, not {right!r}")
