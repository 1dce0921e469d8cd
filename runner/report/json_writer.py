"""results.json: the canonical, versioned record of a run (schemas/results.schema.json).

Every other report is rendered from the RunResult this file round-trips exactly, so
`mktows-run report` can re-render them later from results.json alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner import __version__, jsonschemas
from runner.errors import UsageError
from runner.model import CallResult, DataFile, Retry, RunResult, StepResult, Tolerance
from runner.report import files
from runner.report.facts import counts, public_endpoint
from runner.resources import results_schema_path
from runner.secrets import Redactor

FORMAT_VERSION = 1
RUNNER_NAME = "mktows-run"


def to_dict(result: RunResult) -> dict[str, Any]:
    calls = [c for s in result.steps for c in s.calls]
    return {
        "format_version": FORMAT_VERSION,
        "runner": {"name": RUNNER_NAME, "version": __version__},
        "run_id": result.run_id,
        "playbook": {"file": result.playbook, "name": result.name},
        "endpoint": public_endpoint(result.endpoint),
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "status": result.status,
        "summary": {
            "steps": counts(s.status for s in result.steps),
            "calls": counts(c.status for c in calls),
            "attempts": sum(c.attempts for c in calls),
            "retries": sum(len(c.retries) for c in calls),
        },
        "steps": [_step(s, result.playbook) for s in result.steps],
        "data_files": [{"name": d.name, "path": d.path, "outside": d.outside}
                       for d in result.data_files],
        **({"preflight": result.preflight} if result.preflight is not None else {}),
        "max_failures": [{"id": t.id, "kind": t.kind, "limit": t.limit, "total": t.total,
                          "allowed": t.allowed, "failed": t.failed, "exceeded": t.exceeded}
                         for t in result.max_failures],
    }


def _fault(call: CallResult | None) -> dict[str, Any] | None:
    if call is None:
        return None
    if call.status in ("ok", "skipped") and (
            call.fault_code, call.fault_message, call.error_kind) == (None, None, None):
        return None
    return {"code": call.fault_code, "message": call.fault_message, "kind": call.error_kind}


def _call(call: CallResult) -> dict[str, Any]:
    return {
        "key": call.key,
        "label": call.label,
        "status": call.status,
        "attempts": call.attempts,
        "duration_s": call.duration_s,
        "outputs": call.outputs,
        "fault": _fault(call),
        "retries": [{"attempt": r.attempt, "reason": r.reason, "wait_s": r.wait_s}
                    for r in call.retries],
        "resumed": call.resumed,
    }


def _stopped(step: StepResult) -> dict[str, Any] | None:
    """An interrupted step's fault: why it stopped and how far it got (no code, no kind)."""
    if step.status != "interrupted":
        return None
    return {"code": None, "message": step.note, "kind": None}


def _step(step: StepResult, file: str) -> dict[str, Any]:
    return {
        "id": step.id,
        "name": step.name,
        "operation": step.operation,
        # Steps are all in the playbook file today; the field lets included files come later.
        "file": file,
        "line": step.line,
        "status": step.status,
        "attempts": step.attempts,
        "duration_s": step.duration_s,
        "outputs": step.outputs,
        "fault": _fault(step.failure) or _stopped(step),
        "calls": [_call(c) for c in step.calls],
    }


def from_dict(data: dict[str, Any]) -> RunResult:
    """The RunResult a valid results.json describes (derived fields are recomputed)."""
    return RunResult(
        playbook=data["playbook"]["file"],
        started_at=data["started_at"],
        finished_at=data["finished_at"],
        endpoint=data["endpoint"],
        name=data["playbook"]["name"],
        run_id=data["run_id"],
        interrupted=data["status"] == "interrupted",
        steps=[StepResult(id=s["id"], operation=s["operation"], status=s["status"],
                          line=s["line"], name=s["name"],
                          calls=[_call_from(c) for c in s["calls"]],
                          note=(s["fault"] or {}).get("message")
                          if s["status"] == "interrupted" else None) for s in data["steps"]],
        data_files=[DataFile(d["name"], d["path"], d["outside"])
                    for d in data.get("data_files", [])],
        preflight=data.get("preflight"),
        max_failures=[Tolerance(t["id"], t["kind"], t["limit"], t["total"], t["allowed"],
                                t["failed"], t["exceeded"]) for t in data.get("max_failures", [])],
    )


def _call_from(data: dict[str, Any]) -> CallResult:
    fault = data["fault"] or {}
    return CallResult(
        key=data["key"], label=data["label"], status=data["status"],
        attempts=data["attempts"], duration_s=data["duration_s"], outputs=data["outputs"],
        fault_code=fault.get("code"), fault_message=fault.get("message"),
        error_kind=fault.get("kind"),
        retries=[Retry(r["attempt"], r["reason"], r["wait_s"]) for r in data["retries"]],
        resumed=data["resumed"],
    )


def render(result: RunResult, redactor: Redactor) -> str:
    # Masked value by value before encoding (Redactor.tree), so JSON escaping cannot hide
    # a secret from the redactor.
    data = redactor.tree(to_dict(result))
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def write(result: RunResult, path: Path, redactor: Redactor) -> None:
    files.write_text(path, render(result, redactor))


def read(path: Path) -> RunResult:
    """Load a results.json, checked against the schema of its format_version first."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{path} is not a mktows-run results.json: not JSON ({exc})") from None
    if not isinstance(data, dict) or "format_version" not in data:
        raise UsageError(f"{path} is not a mktows-run results.json: it has no format_version")
    if data["format_version"] != FORMAT_VERSION or isinstance(data["format_version"], bool):
        raise UsageError(
            f"{path} has results format_version {json.dumps(data['format_version'])}; "
            f"mktows-run {__version__} reads format_version {FORMAT_VERSION} only")
    problems = jsonschemas.messages(results_schema_path(), data)
    if problems:
        raise UsageError(f"{path} is not a valid mktows-run results.json (format_version "
                         f"{FORMAT_VERSION}):\n  " + "\n  ".join(problems))
    return from_dict(data)
