"""JSON Schemas compiled into plain Python checks, for schemas checked on a hot path (each
REST request body before it is sent): jsonschema spent ~0.27 ms on a one-record Sync Leads
body and ~45 ms on a 300-record one, a quarter of a call (bench/rest.py).

Only the few keywords those schemas use, each following jsonschema's Draft 2020-12 rules
exactly (tests/test_rest_bodies.py checks them against jsonschema). A value a check passes is
valid; one it fails, or cannot judge (Unsure: an enum compared with a non-string), goes to
jsonschema for the verdict and its messages (runner.jsonschemas.messages). A schema using any
other keyword is never compiled. No jsonschema import here.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]


class Unsure(Exception):
    """The compiled check cannot judge this value the way jsonschema would."""


class _Unsupported(Exception):
    """A keyword the compiler does not know: the schema is left to jsonschema."""


DRAFT = "https://json-schema.org/draft/2020-12/schema"
# Annotations: no effect on validity.
_IGNORED = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description", "examples",
                      "default"})


def compile_schema(schema: dict[str, Any]) -> Check | None:
    """The schema's check, or None when it uses a keyword or a draft not compiled here."""
    if schema.get("$schema") != DRAFT:  # the rules below are this draft's
        return None
    try:
        return _compile(schema, schema.get("$defs") or {}, ())
    except _Unsupported:
        return None


def passes(check: Check, value: Any) -> bool:
    """True: `value` is valid (jsonschema would find nothing). False: it may not be;
    jsonschema decides."""
    try:
        return check(value)
    except (Unsure, TypeError, ValueError, RecursionError):  # (jsonschema will say)
        return False


def _compile(schema: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Check:
    """A check equal to jsonschema's Draft 2020-12 validity for the keywords below (it raises
    Unsure where it is not sure to be)."""
    if schema is True:
        return lambda value: True
    if schema is False:
        return lambda value: False
    if not isinstance(schema, dict):
        raise _Unsupported(schema)
    ref = schema.get("$ref")
    if ref is not None:
        name = ref.removeprefix("#/$defs/") if isinstance(ref, str) else None
        if name is None or name == ref or name not in defs or name in seen or len(schema) > 1:
            raise _Unsupported(ref)  # (recursive, remote, or beside other keywords)
        return _compile(defs[name], defs, (*seen, name))
    checks: list[Check] = []
    for keyword, argument in schema.items():
        if keyword in _IGNORED or keyword in ("then", "else"):
            continue
        make = _KEYWORDS.get(keyword)
        if make is None:
            raise _Unsupported(keyword)
        checks.append(make(argument, schema, defs, seen))
    return _every(checks)


def _every(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]

    def check(value: Any) -> bool:
        for one in checks:  # noqa: SIM110 - plain loops: all() and a generator cost 2x
            if not one(value):
                return False
        return True
    return check


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


# jsonschema's Draft 2020-12 type checker.
_TYPES: dict[str, Callable[[Any], bool]] = {
    "array": lambda v: isinstance(v, list), "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integer, "null": lambda v: v is None, "number": _is_number,
    "object": lambda v: isinstance(v, dict), "string": lambda v: isinstance(v, str)}

Make = Callable[[Any, dict[str, Any], dict[str, Any], tuple[str, ...]], Check]


def _type(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
          seen: tuple[str, ...]) -> Check:
    names = [argument] if isinstance(argument, str) else argument
    if not isinstance(names, list) or not all(n in _TYPES for n in names):
        raise _Unsupported(argument)
    tests = [_TYPES[n] for n in names]
    if len(tests) == 1:
        return tests[0]

    def check(value: Any) -> bool:
        for test in tests:  # noqa: SIM110 - (as in _every)
            if test(value):
                return True
        return False
    return check


def _enum(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
          seen: tuple[str, ...]) -> Check:
    options = argument if isinstance(argument, list) else None
    if options is None or not all(isinstance(o, str) for o in options):
        raise _Unsupported(argument)
    allowed = frozenset(options)

    def check(value: Any) -> bool:
        if not isinstance(value, str):
            raise Unsure  # (jsonschema's equality for other types is its own)
        return value in allowed
    return check


def _const(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
           seen: tuple[str, ...]) -> Check:
    return _enum([argument], schema, defs, seen)


def _required(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
              seen: tuple[str, ...]) -> Check:
    names = tuple(argument)
    return lambda value: not isinstance(value, dict) or all(n in value for n in names)


def _properties(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
                seen: tuple[str, ...]) -> Check:
    checks = [(name, _compile(sub, defs, seen)) for name, sub in argument.items()]

    def check(value: Any) -> bool:
        if isinstance(value, dict):
            for name, one in checks:
                if name in value and not one(value[name]):
                    return False
        return True
    return check


def _additional(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
                seen: tuple[str, ...]) -> Check:
    if "patternProperties" in schema:
        raise _Unsupported("patternProperties")
    known = frozenset(schema.get("properties") or ())
    sub = _compile(argument, defs, seen)
    if argument is False:
        return lambda value: not isinstance(value, dict) or known.issuperset(value)

    def check(value: Any) -> bool:
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in known and not sub(item):
                    return False
        return True
    return check


def _property_names(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
                    seen: tuple[str, ...]) -> Check:
    sub = _compile(argument, defs, seen)

    def check(value: Any) -> bool:
        if isinstance(value, dict):
            for key in value:
                if not sub(key):
                    return False
        return True
    return check


def _items(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
           seen: tuple[str, ...]) -> Check:
    if "prefixItems" in schema:
        raise _Unsupported("prefixItems")
    sub = _compile(argument, defs, seen)

    def check(value: Any) -> bool:
        if isinstance(value, list):
            for item in value:
                if not sub(item):
                    return False
        return True
    return check


def _bound(kind: str, size: Callable[[Any], Any], compare: Callable[[Any, Any], bool]) -> Make:
    def make(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
             seen: tuple[str, ...]) -> Check:
        if not _is_number(argument):
            raise _Unsupported(argument)
        applies = _TYPES[kind]
        return lambda value: not applies(value) or compare(size(value), argument)
    return make


def _pattern(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
             seen: tuple[str, ...]) -> Check:
    search = re.compile(argument).search  # jsonschema: re.search, not a full match
    return lambda value: not isinstance(value, str) or search(value) is not None


def _all_of(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
            seen: tuple[str, ...]) -> Check:
    return _every([_compile(sub, defs, seen) for sub in argument] or [lambda value: True])


def _not(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
         seen: tuple[str, ...]) -> Check:
    sub = _compile(argument, defs, seen)
    return lambda value: not sub(value)


def _if(argument: Any, schema: dict[str, Any], defs: dict[str, Any],
        seen: tuple[str, ...]) -> Check:
    condition = _compile(argument, defs, seen)
    then = _compile(schema.get("then", True), defs, seen)
    otherwise = _compile(schema.get("else", True), defs, seen)
    return lambda value: then(value) if condition(value) else otherwise(value)


_KEYWORDS: dict[str, Make] = {
    "type": _type, "enum": _enum, "const": _const, "required": _required,
    "properties": _properties, "additionalProperties": _additional,
    "propertyNames": _property_names, "items": _items, "pattern": _pattern,
    "allOf": _all_of, "not": _not, "if": _if,
    "minItems": _bound("array", len, lambda n, limit: n >= limit),
    "maxItems": _bound("array", len, lambda n, limit: n <= limit),
    "minProperties": _bound("object", len, lambda n, limit: n >= limit),
    "maxProperties": _bound("object", len, lambda n, limit: n <= limit),
    "minLength": _bound("string", len, lambda n, limit: n >= limit),
    "maxLength": _bound("string", len, lambda n, limit: n <= limit),
    "minimum": _bound("number", lambda v: v, lambda v, limit: v >= limit),
    "maximum": _bound("number", lambda v: v, lambda v, limit: v <= limit),
}
