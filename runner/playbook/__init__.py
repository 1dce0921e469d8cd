"""Loading a playbook: YAML with positions → JSON Schema → Marketo's rules → a Playbook.

Every problem is collected; nothing here touches the network or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.model import Problem
from runner.operations import OPERATIONS
from runner.playbook import rules, schema, source
from runner.playbook.source import Document


@dataclass(frozen=True)
class Step:
    index: int
    id: str
    name: str | None
    operation: str
    params: dict[str, Any]
    line: int

    @property
    def path(self) -> tuple[str | int, ...]:
        return ("steps", self.index, self.operation)


@dataclass(frozen=True)
class Playbook:
    file: str
    name: str
    target: dict[str, Any] | None
    vars: dict[str, Any]
    steps: tuple[Step, ...]
    doc: Document


def _steps(doc: Document) -> tuple[Step, ...]:
    raw = doc.data.get("steps") if isinstance(doc.data, dict) else None
    out = []
    for i, step in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(step, dict) or not isinstance(step.get("id"), str):
            continue
        ops = [k for k in OPERATIONS if isinstance(step.get(k), dict)]
        if len(ops) != 1:
            continue
        out.append(Step(i, step["id"], step.get("name"), ops[0], step[ops[0]],
                        doc.locate(("steps", i)).line))
    return tuple(out)


def load(path: Path, display: str | None = None) -> tuple[Playbook | None, list[Problem]]:
    """The playbook and every problem found in it (a YAML syntax error stops early)."""
    doc, problems = source.load(path, display)
    if doc.data is None:
        return None, problems
    if not isinstance(doc.data, dict):
        return None, [*problems, Problem(doc.locate(()), "", "a playbook is a mapping with "
                                         "version and steps")]
    # A value YAML already could not read (an unquoted {{token}}) gets no second complaint.
    unreadable = tuple(p.path for p in problems if p.path)
    problems += [p for p in schema.validate(doc) + rules.check(doc)
                 if not p.path.startswith(unreadable) or not unreadable]
    data = doc.data
    playbook = Playbook(
        file=doc.file,
        name=str(data.get("name") or Path(path).stem),
        target=data.get("target") if isinstance(data.get("target"), dict) else None,
        vars=dict(data["vars"]) if isinstance(data.get("vars"), dict) else {},
        steps=_steps(doc),
        doc=doc,
    )
    return playbook, sorted(problems, key=lambda p: p.location)
