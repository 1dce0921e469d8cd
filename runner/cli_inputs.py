"""Reading --vars-file and --secrets-file (no click: session.py reads them again on resume)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.errors import PlaybookError, UsageError


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """A --vars-file / --secrets-file: YAML or JSON mapping, or KEY=VALUE lines (dotenv)."""
    from runner.playbook.source import load

    text = path.read_text(encoding="utf-8")
    if what == "secrets" and path.suffix not in (".yml", ".yaml", ".json"):
        pairs = {}
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, value = line.removeprefix("export ").partition("=")
            if not sep:
                raise UsageError(f"{path}:{n}: expected NAME=VALUE")
            pairs[name.strip()] = value.strip().strip("'\"")
        return pairs
    doc, problems = load(path)
    if problems:
        raise PlaybookError(problems)
    if not isinstance(doc.data, dict):
        raise UsageError(f"{path}: a {what} file must be a mapping of names to values")
    return {str(k): v for k, v in doc.data.items()}
