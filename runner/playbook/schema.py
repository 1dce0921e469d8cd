"""JSON Schema validation of a playbook, each error placed at its line and column.

The schema file in schemas/ is the one source: `mktows-run
schema` prints it, editors read it, and this module validates with it.
"""

from __future__ import annotations

import difflib
from typing import Any

from runner import jsonschemas
from runner.model import Problem
from runner.operations import NAMES as OPERATIONS
from runner.playbook.source import Document, PathT, json_path
from runner.resources import playbook_schema_path


def schema() -> dict[str, Any]:
    return jsonschemas.load(playbook_schema_path())


def _is_expression_branch(sub: dict[str, Any]) -> bool:
    return sub.get("$ref") == "#/$defs/expression"


_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def _type_fits(branch: dict[str, Any], instance: Any) -> bool:
    """Whether a branch is about this kind of value (its errors are then the relevant ones)."""
    kind = branch.get("type")
    if "$ref" in branch:
        kind = schema()["$defs"].get(branch["$ref"].rsplit("/", 1)[-1], {}).get("type", kind)
    if not isinstance(kind, str):
        return True
    if kind in ("integer", "number"):
        return isinstance(instance, int | float) and not isinstance(instance, bool)
    return isinstance(instance, _JSON_TYPES.get(kind, object))


def _describe(error: Any) -> tuple[Any, str, str | None]:
    """The error to show (for anyOf, the relevant branch's), its message, and a fix."""
    error = _relevant(error)
    message, hint = _message(error)
    return error, message, hint


def _relevant(error: Any) -> Any:
    if error.validator == "anyOf" and error.context:
        # Typed fields also accept a ${...} string; explain the failure of the typed branch.
        branches = error.validator_value
        real = [e for e in error.context if not _is_expression_branch(branches[e.schema_path[0]])
                and _type_fits(branches[e.schema_path[0]], error.instance)]
        # The deepest error is the one about what the author wrote (best_match would
        # descend on its own and may pick the ${...} branch of a nested anyOf).
        candidates = real or list(error.context)
        best = max(candidates, key=lambda e: len(e.absolute_path))
        return _relevant(best)
    return error


def _message(error: Any) -> tuple[str, str | None]:
    hint: str | None
    if error.validator == "enum":
        allowed = [str(v) for v in error.validator_value]
        close = difflib.get_close_matches(str(error.instance), allowed, n=1, cutoff=0.5)
        hint = (f"did you mean '{close[0]}'? " if close else "") + f"allowed: {', '.join(allowed)}"
        return f"{error.instance!r} is not an allowed value", hint
    if error.validator == "type":
        expected = error.validator_value
        hint = None
        if expected == "boolean" and isinstance(error.instance, str):
            hint = "write true or false (yes/no/on/off are strings in YAML 1.2)"
        elif expected == "integer" and isinstance(error.instance, str):
            hint = "write a number without quotes, or a ${...} reference"
        return f"{error.instance!r} is not of type '{expected}'", hint
    if error.validator == "format" and error.validator_value == "date-time":
        return (f"{error.instance!r} is not a date-time",
                "write a W3C date-time with an offset, e.g. 2026-12-01T09:00:00-06:00")
    if error.validator == "const":
        return f"{error.instance!r} is not supported", f"write {error.validator_value!r}"
    if error.validator == "pattern" and error.path and error.path[-1] == "encryptionKey":
        return ("the encryption key must not be written in the playbook",
                "write ${secret.NAME} (or ${env.NAME}) and set NAME in the environment")
    return error.message, None


def _unknown_keys(doc: Document, error: Any, path: PathT) -> list[Problem]:
    props = list(error.schema.get("properties", {}))
    problems = []
    for key in error.instance:
        if key in props:
            continue
        hint = None
        close = difflib.get_close_matches(key, props, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean '{close[0]}'?"
        elif props:
            hint = f"allowed keys: {', '.join(props)}"
        problems.append(Problem(doc.locate((*path, key), key=True), json_path((*path, key)),
                                f"unknown key '{key}'", hint))
    return problems


_STEP_KEYS = ("id", "name", "when", "tags", "loop", "max_failures", "steps", *OPERATIONS)


def _operation_count(doc: Document, error: Any, path: PathT) -> list[Problem]:
    if not isinstance(error.instance, dict):
        return [Problem(doc.locate(path), json_path(path),
                        f"a step is a mapping (id, an operation, ...), not {error.instance!r}",
                        "remove the stray list item or give it an id and an operation")]
    present = [k for k in error.instance if k in OPERATIONS]
    if len(present) > 1:
        return [Problem(doc.locate((*path, present[1]), key=True), json_path(path),
                        f"a step has exactly one operation, this one has {' and '.join(present)}",
                        "split it into two steps")]
    if present and "steps" in error.instance:
        return [Problem(doc.locate((*path, "steps"), key=True), json_path(path),
                        f"a step is either an operation ({present[0]}) or a group (steps:), "
                        "not both", "move the operation into the group's steps")]
    unknown = [k for k in error.instance if k not in _STEP_KEYS]
    if unknown:
        return []  # the unknown key (probably a misspelt operation) is already reported
    return [Problem(doc.locate(path), json_path(path), "the step has no operation",
                    f"add one of: {', '.join(OPERATIONS)} (or steps: for a group)")]


def validate(doc: Document) -> list[Problem]:
    problems: list[Problem] = []
    for error in jsonschemas.iter_errors(playbook_schema_path(), doc.data, remember=True):
        problems += _problems(doc, error)
    return problems


def _problems(doc: Document, error: Any) -> list[Problem]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        return _unknown_keys(doc, error, path)
    if (error.validator == "type" and len(path) >= 2 and path[-2] == "steps"
            and not isinstance(error.instance, dict)):
        return []  # the oneOf below says it in the step's own terms
    if error.validator == "oneOf" and len(path) >= 2 and path[-2] == "steps":
        return _operation_count(doc, error, path)
    if error.validator == "oneOf" and path == ("target",) and isinstance(error.instance, dict):
        # SOAP or REST: judge the target as the kind its api: says, not as "neither".
        branch = 1 if error.instance.get("api") == "rest" else 0
        own = [e for e in error.context or () if e.relative_schema_path[0] == branch]
        if own:
            return [p for e in own for p in _problems(doc, e)]
    if error.validator == "required":
        return [Problem(doc.locate(path), json_path(path), error.message)]
    shown, message, hint = _describe(error)
    where = tuple(shown.absolute_path)
    return [Problem(doc.locate(where), json_path(where), message, hint)]
