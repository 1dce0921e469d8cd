"""JSON Schema checking, for the playbook and the results file. The only importer of
jsonschema (imported on first use: `--help` does not pay for it).

`iter_errors(..., remember=True)` (the playbook's check) answers a document jsonschema has
found valid before without importing it (~70 ms, and ~10 ms more building the validator):
the valid verdicts are kept in the user's cache (runner.verdicts), by digest of the schema
file, jsonschema's installed stamp and the document's canonical JSON. An invalid document
always goes to jsonschema: its messages are what the user reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from runner import schema_compiled, verdicts


@cache
def _raw(path: Path) -> bytes:
    return path.read_bytes()


@cache
def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_raw(path).decode("utf-8"))
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


def iter_errors(path: Path, instance: Any, *, inline: bool = False,
                remember: bool = False) -> Iterator[Any]:
    """jsonschema's ValidationErrors of `instance` against the schema file at `path`
    (`inline`: with its local $refs resolved once, for schemas checked on a hot path;
    `remember`: a document found valid before is valid without asking jsonschema again)."""
    if not remember:
        found: Iterator[Any] = _validator(path, inline).iter_errors(instance)
        return found
    key = _document_key(path, instance, inline)
    store = _store(verdicts.cache_dir())
    if key is not None and store.has("valid", key):
        return iter(())
    errors = list(_validator(path, inline).iter_errors(instance))
    if key is not None and not errors:
        store.add("valid", key)
    return iter(errors)


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether `value` is JSON as jsonschema sees it, and canonical JSON keeps it apart from
    every other value: dicts with string keys, lists, strings, finite numbers, booleans,
    None. (A tuple would be written as a list, an int key as a string, and jsonschema judges
    neither as the list or the string it would read back.)"""
    kind = type(value)
    if kind is dict:
        return depth < 200 and all(isinstance(k, str) and _plain(v, depth + 1)
                                   for k, v in value.items())
    if kind is list:
        return depth < 200 and all(_plain(v, depth + 1) for v in value)
    return isinstance(value, str) or kind in (int, float, bool) or value is None


def _document_key(path: Path, instance: Any, inline: bool) -> str | None:
    if not _plain(instance):
        return None
    try:
        text = json.dumps(instance, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return None
    return verdicts.digest(verdicts.digest(_raw(path)), inline, text)


@cache
def _store(directory: Path | None) -> verdicts.Verdicts:
    stamp = verdicts.library_stamp("jsonschema")
    key = verdicts.file_key("jsonschema", stamp)
    # (no stamp: a jsonschema we cannot tell from another, whose verdicts are not kept)
    path = directory / f"jsonschema-{key[:16]}-verdicts.json" if directory and stamp else None
    return verdicts.Verdicts(path, key, ("valid",))


@cache
def compiled(path: Path) -> schema_compiled.Check | None:
    """The schema file's compiled check (runner.schema_compiled), or None."""
    return schema_compiled.compile_schema(load(path))


def passes(path: Path, instance: Any) -> bool:
    """True when the compiled check finds `instance` valid (then jsonschema would too)."""
    check = compiled(path)
    return check is not None and schema_compiled.passes(check, instance)


def messages(path: Path, instance: Any, limit: int = 10, *, inline: bool = False) -> list[str]:
    """`<json path>: <message>` for the first `limit` errors; none, without asking
    jsonschema, for what the schema's compiled check passes."""
    if passes(path, instance):
        return []
    out = []
    for error in iter_errors(path, instance, inline=inline):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        out.append(f"${where}: {error.message}")
        if len(out) >= limit:
            break
    return out
