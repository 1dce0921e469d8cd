"""JSON Schema checking, for the playbook and the results file. The only importer of
jsonschema (imported on first use: `--help` does not pay for it)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any


@cache
def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = json.load(f)
    return loaded


@cache
def _validator(path: Path, inline: bool = False) -> Any:
    import jsonschema

    schema = load(path)
    cls = jsonschema.validators.validator_for(schema)
    if inline:
        # Local $refs resolved once, here: resolving them per instance was a third of the
        # cost of checking each REST request body (bench/rest.py). Recursive ones stay
        # references. (Not for the playbook: its messages name the $ref'd definitions.)
        schema = _inlined(schema, schema.get("$defs") or {}, ())
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _inlined(node: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inlined(v, defs, seen) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) == 1:
        name = ref.removeprefix("#/$defs/")
        if name in defs and name not in seen:
            return _inlined(defs[name], defs, (*seen, name))
        return node
    return {k: (v if k == "$defs" else _inlined(v, defs, seen)) for k, v in node.items()}


def iter_errors(path: Path, instance: Any, *, inline: bool = False) -> Any:
    """jsonschema's ValidationErrors of `instance` against the schema file at `path`
    (`inline`: with its local $refs resolved once, for schemas checked on a hot path)."""
    return _validator(path, inline).iter_errors(instance)


def messages(path: Path, instance: Any, limit: int = 10, *, inline: bool = False) -> list[str]:
    """`<json path>: <message>` for the first `limit` errors."""
    out = []
    for error in iter_errors(path, instance, inline=inline):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        out.append(f"${where}: {error.message}")
        if len(out) >= limit:
            break
    return out
