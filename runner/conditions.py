"""`when:` conditions: a small, side-effect-free grammar, parsed at load.

    expr := or ; or := and ("or" and)* ; and := not ("and" not)* ; not := "not" not | cmp
    cmp  := atom (("==" | "!=" | "in" | "not in") atom)?
    atom := ${ref} | 'text' | "text" | number | true | false | null | [atom, ...] | ( expr )

Nothing is called and nothing is assigned: a condition can only compare values.

Bounded (the README documents it): the parser is recursive, so nesting (parentheses, `not`,
lists) is capped well below Python's recursion limit, and `and`/`or` chains are kept flat.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from runner.variables import Pending, Ref, VariableSyntaxError, parse

_BLANK = re.compile(r"\s*\Z")
_TOKEN = re.compile(r"""\s*(?:(?P<ref>\$\{[^}]*\})|(?P<str>'[^']*'|"[^"]*")|"""
                    r"""(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|\(|\)|\[|\]|,)|(?P<word>[A-Za-z_]+))""")
_WORDS = {"and", "or", "not", "in", "true", "false", "null"}

# A real condition is a handful of comparisons; these keep a hostile one cheap and shallow.
# (Its text is bounded by the playbook's size; the nesting is checked first while parsing.)
MAX_CONDITION_DEPTH = 32  # levels of (...), [...] and `not`
MAX_CONDITION_TOKENS = 2000  # words, literals, references and symbols
_MAX_NUMBER_CHARS = 64


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
        if _BLANK.match(text, pos):  # not text[pos:].strip(): quadratic on a long condition
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
            if len(value) > _MAX_NUMBER_CHARS:
                raise ConditionError(f"a number of {len(value)} digits is too long")
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
        self.depth = 0

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_CONDITION_DEPTH:
            raise ConditionError(f"the condition nests more than {MAX_CONDITION_DEPTH} levels "
                                 "deep")

    def peek(self, *values: str) -> bool:
        return self.pos < len(self.tokens) and self.tokens[self.pos][1] in values and (
            self.tokens[self.pos][0] in ("op", "word"))

    def take(self) -> tuple[str, Any]:
        if self.pos >= len(self.tokens):
            raise ConditionError("the condition ends too early")
        self.pos += 1
        return self.tokens[self.pos - 1]

    # `a or b or c` is one ("or", a, b, c) node: a long chain adds no depth to the tree.
    def expr(self) -> Node:
        nodes = [self.conj()]
        while self.peek("or"):
            self.take()
            nodes.append(self.conj())
        return nodes[0] if len(nodes) == 1 else ("or", *nodes)

    def conj(self) -> Node:
        nodes = [self.neg()]
        while self.peek("and"):
            self.take()
            nodes.append(self.neg())
        return nodes[0] if len(nodes) == 1 else ("and", *nodes)

    def neg(self) -> Node:
        if self.peek("not"):
            self.take()
            self.enter()
            node = ("not", self.neg())
            self.depth -= 1
            return node
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
            self.enter()
            node = self.expr()
            if not self.peek(")"):
                raise ConditionError("missing ')'")
            self.take()
            self.depth -= 1
            return node
        if value == "[":
            self.enter()
            items: list[Node] = []
            while not self.peek("]"):
                items.append(self.atom())
                if not self.peek("]") and self.take()[1] != ",":
                    raise ConditionError("expected ',' in a list")
            self.take()
            self.depth -= 1
            return ("list", tuple(items))
        raise ConditionError(f"unexpected {value!r} in condition")


@dataclass(frozen=True)
class Condition:
    text: str
    tree: Node

    def evaluate(self, lookup: Callable[[Ref], Any]) -> bool | Unknown:
        value = _eval(self.tree, lookup)
        return value if isinstance(value, Unknown) else bool(value)

    def refs(self) -> list[Ref]:
        """Every reference the condition reads, in order."""
        found: list[Ref] = []
        stack = [self.tree]
        while stack:
            node = stack.pop()
            if node[0] == "ref":
                found.append(node[1])
            elif node[0] == "list":
                stack.extend(reversed(node[1]))
            elif node[0] != "lit":
                stack.extend(reversed(node[1:]))
        return found


def compile_condition(text: str | bool) -> Condition:
    if isinstance(text, bool):
        return Condition(str(text).lower(), ("lit", text))
    if not isinstance(text, str):
        raise ConditionError(f"a condition is text or true/false, not {type(text).__name__}")
    compiled = _compile(text)
    if isinstance(compiled, str):
        raise ConditionError(compiled)
    return compiled


@lru_cache(maxsize=256)
def _compile(text: str) -> Condition | str:
    """The condition, or why it is not one. A loop's `when` is checked once per item: each
    text is parsed once, a broken one too (a Condition is immutable, an error is its text)."""
    try:
        return _parse(text)
    except ConditionError as exc:
        return str(exc)


def _parse(text: str) -> Condition:
    try:
        parser = _Parser(_tokens(text))
        tree = parser.expr()  # a nesting error comes first: it is the more useful message
        if len(parser.tokens) > MAX_CONDITION_TOKENS:
            raise ConditionError(f"the condition is too long (more than "
                                 f"{MAX_CONDITION_TOKENS} words and symbols)")
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
        # Folded left to right; short-circuit on a known value, as a reader would expect.
        left = args[0]
        for right in args[1:]:
            if kind == "and" and not isinstance(left, Unknown) and not left:
                return False
            if kind == "or" and not isinstance(left, Unknown) and left:
                return True
            left = left if isinstance(left, Unknown) else right
        return left
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
