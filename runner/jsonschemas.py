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
def _validator(path: Path) -> Any:
    import jsonschema

    schema = load(path)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def iter_errors(path: Path, instance: Any) -> Any:
    """jsonschema's ValidationErrors of `instance` against the schema file at `path`."""
    return _validator(path).iter_errors(instance)


def messages(path: Path, instance: Any, limit: int = 10) -> list[str]:
    """`<json path>: <message>` for the first `limit` errors."""
    out = []
    for error in iter_errors(path, instance):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        out.append(f"${where}: {error.message}")
        if len(out) >= limit:
            break
    return out
