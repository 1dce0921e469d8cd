"""results.json: the canonical, versioned record of a run (schemas/results.schema.json)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner import __version__
from runner.model import CallResult, RunResult, StepResult

FORMAT_VERSION = 1


def _fault(code: int | None, message: str | None) -> dict[str, Any]:
    return {"code": code, "message": message}


def _call(call: CallResult) -> dict[str, Any]:
    return {
        "key": call.key,
        "label": call.label,
        "status": call.status,
        "attempts": call.attempts,
        "duration_s": call.duration_s,
        "outputs": call.outputs,
        "fault": None if call.status == "ok" else _fault(call.fault_code, call.fault_message),
    }


def _step(step: StepResult) -> dict[str, Any]:
    failure = step.failure
    return {
        "id": step.id,
        "operation": step.operation,
        "line": step.line,
        "status": step.status,
        "attempts": step.attempts,
        "duration_s": step.duration_s,
        "outputs": step.outputs,
        "fault": None if failure is None else _fault(failure.fault_code, failure.fault_message),
        "calls": [_call(c) for c in step.calls],
    }


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
        "steps": [_step(s) for s in result.steps],
    }


def write(result: RunResult, name: str, path: Path, redact: Callable[[str], str]) -> None:
    text = redact(json.dumps(to_dict(result, name), indent=2, default=str)) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a report
