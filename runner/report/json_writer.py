"""results.json: the canonical, versioned record of a run (schemas/results.schema.json)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner import __version__
from runner.model import RunResult

FORMAT_VERSION = 1


def to_dict(result: RunResult, name: str) -> dict[str, Any]:
    counts = {s: sum(1 for r in result.steps if r.status == s) for s in ("ok", "failed", "skipped")}
    return {
        "format_version": FORMAT_VERSION,
        "runner": {"name": "mktows-run", "version": __version__},
        "playbook": {"file": result.playbook, "name": name},
        "endpoint": result.endpoint,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "status": "ok" if result.ok else "failed",
        "summary": counts,
        "steps": [
            {
                "id": s.id,
                "operation": s.operation,
                "line": s.line,
                "status": s.status,
                "attempts": s.attempts,
                "duration_s": s.duration_s,
                "outputs": s.outputs,
                "fault": None if s.status != "failed" else {
                    "code": s.fault_code, "message": s.fault_message},
            }
            for s in result.steps
        ],
    }


def write(result: RunResult, name: str, path: Path, redact: Callable[[str], str]) -> None:
    text = redact(json.dumps(to_dict(result, name), indent=2, default=str)) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a report
