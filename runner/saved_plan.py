"""Saved plans: `plan --out FILE` records what was reviewed, `apply FILE` sends exactly that.

A saved plan holds the run's options (paths and choices, as the journal keeps them), the
hashes of every input (playbook, variables, data files, WSDL), and, per step, how many calls
it makes and a digest of every call (its key and its parameters, secrets masked, run-time
values as "(known after step X)"). It never holds a secret's value. `apply` prepares the
playbook again and refuses, saying what changed, unless the inputs, every step's calls and
the plan's age all still match; preflight then re-checks what Marketo must hold.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.calls import Call
from runner.errors import PlaybookError, StorageError, UsageError
from runner.options import RunOptions
from runner.secrets import Redactor

FORMAT = "mktows-run plan"
VERSION = 1
MAX_BYTES = 16 * 1024 * 1024  # a saved plan is per-step digests: small whatever the rows


@dataclass
class Digest:
    """Every call of a prepare(), folded per step as it is generated (memory flat in rows)."""

    redactor: Redactor = field(default_factory=Redactor)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    _hashes: dict[str, Any] = field(default_factory=dict)

    def __call__(self, call: Call) -> None:
        params = dict(call.params)
        if call.workspace is not None:
            params["targetWorkspace"] = call.workspace
        self.redactor.add(*call.scope.secret_values)
        # Masked as tree() masks; without its copy when nothing is to be masked.
        shown = params if self.redactor.leaves_alone(params) else self.redactor.tree(params)
        text = json.dumps([str(call.key), shown], sort_keys=True, default=str)
        step = call.step.id
        if step not in self._hashes:
            self._hashes[step] = hashlib.sha256()
            self.steps[step] = {"operation": call.step.op.name, "calls": 0}
        self._hashes[step].update(text.encode() + b"\n")
        self.steps[step]["calls"] += 1

    def result(self) -> dict[str, dict[str, Any]]:
        return {step: {**info, "digest": self._hashes[step].hexdigest()}
                for step, info in self.steps.items()}


def write(path: Path, options: RunOptions, inputs: dict[str, Any], digest: Digest, api: str,
          preflight: str | None, write_text: Callable[[Path, str], None]) -> None:
    document = {
        "format": FORMAT, "version": VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "options": options.to_json(), "api": api, "inputs": inputs,
        "steps": digest.result(), "preflight": preflight,
    }
    write_text(path, json.dumps(digest.redactor.tree(document), indent=2) + "\n")


def read(path: Path) -> dict[str, Any]:
    """A saved plan, or UsageError saying why the file is not one."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the plan {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise UsageError(f"{path} is larger than a saved plan can be ({MAX_BYTES} bytes)")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UsageError(f"{path} is not a saved plan (not JSON): write one with "
                         "`mktows-run plan PLAYBOOK --out FILE`") from None
    if (not isinstance(document, dict) or document.get("format") != FORMAT
            or not isinstance(document.get("options"), dict)
            or not isinstance(document.get("steps"), dict)
            or not isinstance(document.get("inputs"), dict)):
        raise UsageError(f"{path} is not a saved plan of mktows-run")
    if document.get("version") != VERSION:
        raise UsageError(f"{path} is a saved plan of version {document.get('version')!r}; this "
                         f"mktows-run applies version {VERSION}: plan again")
    return document


APPLIED_DIR = Path(".mktows") / "applied"


@contextmanager
def applying_once(path: Path) -> Iterator[None]:
    """A saved plan is applied once: a second apply (or two at the same time) would send its
    campaign calls again. The claim is made atomically before anything is sent, and given
    back if nothing was sent (the apply was refused before its first write)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    marker = APPLIED_DIR / f"{digest[:32]}.json"
    try:
        APPLIED_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        try:
            when = json.loads(marker.read_text(encoding="utf-8")).get("at", "earlier")
        except (OSError, ValueError, AttributeError):
            when = "earlier"
        raise UsageError(f"the plan {path} was already applied ({when}): a saved plan is sent "
                         "once; resume that run (mktows-run resume RUN), or plan again") from None
    except OSError as exc:
        raise StorageError(marker, exc) from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"plan": str(path.resolve()), "at": datetime.now(UTC).isoformat(
            timespec="seconds")}, f)
    try:
        yield
    except (PlaybookError, UsageError):  # refused before the first write: apply it again later
        marker.unlink(missing_ok=True)
        raise


def options_of(document: dict[str, Any]) -> RunOptions:
    try:
        return RunOptions.from_json(document["options"])
    except (KeyError, TypeError, ValueError):
        raise UsageError("the saved plan's options are damaged: plan again") from None


def stale(document: dict[str, Any], inputs: dict[str, Any], digest: Digest, api: str,
          max_age_s: float, now: datetime) -> list[str]:
    """Why the saved plan no longer describes what would run (empty: it does)."""
    reasons = []
    try:
        created = datetime.fromisoformat(str(document.get("created_at")))
        age = (now - created).total_seconds()
    except ValueError:
        age = float("inf")
    if age > max_age_s:
        reasons.append(f"it is {age / 3600:.1f} h old (apply accepts {max_age_s / 3600:g} h; "
                       "--max-age changes it)")
    saved_inputs = document["inputs"]
    for name in ("playbook", "vars", "wsdl"):
        if saved_inputs.get(name) != inputs.get(name):
            reasons.append(f"the {name} changed")
    old, new = saved_inputs.get("data") or {}, inputs.get("data") or {}
    reasons += [f"data file {f} changed" for f in sorted(set(old) | set(new))
                if old.get(f) != new.get(f)]
    if document.get("api") != api:
        reasons.append(f"the API changed ({document.get('api')} -> {api})")
    saved, now_steps = document["steps"], digest.result()
    for step in sorted(set(saved) | set(now_steps), key=str):
        before, after = saved.get(step) or {}, now_steps.get(step) or {}
        if before.get("calls") != after.get("calls"):
            reasons.append(f"step {step} now makes {after.get('calls', 0)} call(s), the plan "
                           f"{before.get('calls', 0)}")
        elif before.get("digest") != after.get("digest"):
            reasons.append(f"step {step}'s calls send other values than the plan's")
    return reasons
