"""Playbook-wide rules JSON Schema cannot say (unique step ids, names that are keys,
credentials from references), plus each operation's own rules, which live in its registry
module (runner/operations/). Values written as ${...} are checked again after resolution, by
the XSD; the operations' rules skip them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runner import operations
from runner.model import Literal, Problem
from runner.playbook.source import Document, PathT, json_path


def _raw_steps(raw: Any, base: PathT) -> Iterator[tuple[PathT, dict[str, Any]]]:
    for i, step in enumerate(raw if isinstance(raw, list) else []):
        if isinstance(step, dict):
            yield (*base, i), step
            yield from _raw_steps(step.get("steps"), (*base, i, "steps"))


def _keys_with_refs(value: Any, path: PathT) -> Iterator[PathT]:
    """Mapping keys holding `${`: keys are names sent as written, never substituted."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if "${" in key:
                yield (*path, key)
            yield from _keys_with_refs(sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _keys_with_refs(sub, (*path, i))


def _credentials(doc: Document) -> list[Problem]:
    """`encryptionKey: !literal "${secret.K}"` passes the schema's pattern, but a !literal is
    never substituted: the key would be that text. Credentials come from references only."""
    target = doc.data.get("target")
    key = target.get("encryptionKey") if isinstance(target, dict) else None
    if isinstance(key, Literal) and "${" in key:
        where = ("target", "encryptionKey")
        return [Problem(doc.locate(where), json_path(where), "the encryption key must be a "
                        "${secret.NAME} or ${env.NAME} reference, not !literal text",
                        "remove the !literal tag")]
    return []


def check(doc: Document) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(doc.data, dict):
        return problems
    for path in _keys_with_refs(doc.data, ()):
        problems.append(Problem(
            doc.locate(path, key=True), json_path(path), f"'{path[-1]}' is a key: a key is "
            "sent as written, ${...} in it would never be substituted",
            "write the name itself; to take a name from a variable, use the list form "
            "(attrName/attrValue, name/value), whose names are values"))
    problems += _credentials(doc)
    seen: dict[str, PathT] = {}
    for path, step in _raw_steps(doc.data.get("steps"), ("steps",)):
        sid = step.get("id")
        if isinstance(sid, str):
            if sid in seen:
                problems.append(Problem(doc.locate((*path, "id")), json_path((*path, "id")),
                                        f"duplicate step id '{sid}' (also {json_path(seen[sid])})",
                                        "step ids must be unique in the playbook"))
            seen.setdefault(sid, path)
        for name in operations.NAMES:
            params = step.get(name)
            if isinstance(params, dict):
                for sub, message, hint in operations.get(name).rules(params):
                    where = (*path, name, *sub)
                    problems.append(Problem(doc.locate(where), json_path(where), message, hint))
    return problems
