"""results.json: the canonical, versioned record of a run (schemas/results.schema.json).

Every other report is rendered from the RunResult this file round-trips exactly, so
`mktows-run report` can re-render them later from results.json alone.
"""

from __future__ import annotations

import json
import math
import threading
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, cast

from runner import __version__, jsonschemas
from runner.errors import UsageError
from runner.model import CallResult, DataFile, Retry, RunResult, StepResult, Tolerance
from runner.report import files
from runner.report.facts import counts, public_endpoint
from runner.resources import results_schema_path
from runner.secrets import Redactor

FORMAT_VERSION = 1
RUNNER_NAME = "mktows-run"


def to_dict(result: RunResult, prerendered: Prerendered | None = None) -> dict[str, Any]:
    """results.json as a value; with `prerendered`, a call already written by it stands as
    its text (for `render` only)."""
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
        "steps": [_step(s, result.playbook, prerendered) for s in result.steps],
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


def _step(step: StepResult, file: str, prerendered: Prerendered | None = None) -> dict[str, Any]:
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
        "calls": [_call(c) for c in step.calls] if prerendered is None else [
            prerendered.get(c) or _call(c) for c in step.calls],
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


def render(result: RunResult, redactor: Redactor, prerendered: Prerendered | None = None) -> str:
    """results.json's text: exactly `json.dumps(redactor.tree(to_dict(result)), indent=2,
    ensure_ascii=False, default=str)`, masked value by value before encoding (so JSON escaping
    cannot hide a secret from the redactor), but written by `_Writer` in one pass: the
    standard library's indented encoder is pure Python, and a 30,000-lead run repeats the same
    few keys and statuses 100,000 times, each masked once here (it was ~1 s a report). The
    calls `prerendered` (made with this redactor) wrote as they settled are not written again."""
    if prerendered is not None and prerendered.redactor is not redactor:
        prerendered = None
    return _Writer(redactor).text(to_dict(result, prerendered), "\n") + "\n"


# Where a call's object starts in results.json: root > "steps" > a step > "calls" > the call.
_CALL_LINE = "\n" + " " * 8


class _Written(str):
    """JSON text already written (by Prerendered): _Writer copies it as it is."""


class Prerendered:
    """Each call's part of results.json, written as the call settles (runs.py hands it every
    outcome the executor reports), so that the end of a run, which every report waits for,
    only joins them: ~0.1 s of a 30,000-lead run. A settled CallResult does not change. When
    the redactor learns a secret (a REST token), `forget` drops what was masked without it;
    a call written while it learned is not kept."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._lock = threading.Lock()
        self._generation = 0
        self._writer = _Writer(redactor)
        self._texts: dict[int, tuple[CallResult, _Written]] = {}  # by id(): a record is a dict key

    def add(self, call: CallResult) -> None:
        with self._lock:
            generation, writer = self._generation, self._writer
        try:
            text = _Written(writer.text(_call(call), _CALL_LINE))
        except (RecursionError, ValueError, TypeError):
            return  # (render meets the same value, and says so)
        with self._lock:
            if generation == self._generation:
                self._texts[id(call)] = (call, text)

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._writer = _Writer(self.redactor)  # (its masked literals are stale too)
            self._texts = {}

    def get(self, call: CallResult) -> _Written | None:
        found = self._texts.get(id(call))
        return found[1] if found is not None and found[0] is call else None


class _Writer:
    """json.dumps(indent=2, ensure_ascii=False, default=str) of Redactor.tree(value), token
    for token (tests/test_reports.py compares the two)."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        # A string -> its masked JSON literal. The redactor cannot change during one render,
        # and masking depends on nothing but the text.
        self.literals: dict[str, str] = {}

    def literal(self, text: str) -> str:
        found = self.literals.get(text)
        if found is None:
            found = self.literals[text] = encode_basestring(self.redactor.tree(text))
        return found

    def text(self, value: Any, newline: str) -> str:
        """`value` as JSON; `newline`: a line break and the indent of the line it starts on."""
        kind = type(value)  # exact types first: the common case, one test each
        if kind is str:
            return self.literal(value)
        if kind is _Written:
            return cast(str, value)
        if kind is int:
            return int.__repr__(value)
        if value is None:
            return "null"
        if kind is bool:
            return "true" if value else "false"
        if kind is dict:
            return self._object(value, newline)
        if kind is list:
            return self._array(value, newline)
        # Subclasses, in json.dumps' order of tests.
        if isinstance(value, str):
            return self.literal(value)
        if isinstance(value, int):
            return int.__repr__(value)
        if isinstance(value, float):
            return _float(value)
        if isinstance(value, list | tuple):
            return self._array(value, newline)
        if isinstance(value, dict):
            return self._object(value, newline)
        return encode_basestring(str(value))  # tree leaves it alone; json.dumps: default=str

    def _object(self, value: dict[Any, Any], newline: str) -> str:
        if not value:
            return "{}"
        # Keys masked as tree masks them (str() first), so two that mask alike merge as they
        # would in its dict.
        items = {self.literal(str(k)): v for k, v in value.items()}
        inner = newline + "  "
        return ("{" + inner + ("," + inner).join([key + ": " + self._leaf(item, inner)
                                                 for key, item in items.items()])
                + newline + "}")

    def _array(self, value: list[Any] | tuple[Any, ...], newline: str) -> str:
        if not value:
            return "[]"
        inner = newline + "  "
        return ("[" + inner + ("," + inner).join([self._leaf(item, inner) for item in value])
                + newline + "]")

    def _leaf(self, value: Any, newline: str) -> str:
        """text(), the strings and nulls that most values are without a further call."""
        if type(value) is str:
            found = self.literals.get(value)
            return found if found is not None else self.literal(value)
        if value is None:
            return "null"
        return self.text(value, newline)


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


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
