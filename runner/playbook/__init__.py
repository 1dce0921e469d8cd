"""Loading a playbook: YAML with positions → JSON Schema → Marketo's rules → a Playbook.

Every problem is collected; nothing here touches the network, the environment or data files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import operations
from runner.model import Column, Problem
from runner.operations.spec import Operation
from runner.playbook import rules, schema, source
from runner.playbook.source import Document, PathT, iter_items

__all__ = ["Document", "Loop", "Playbook", "Step", "iter_items", "load"]


@dataclass(frozen=True)
class Loop:
    """Where a step's items come from: inline, a ${...} reference, or a data file."""

    items: Any  # a list, a ${...} string, or None when `file` is set
    file: str | None
    format: str | None
    delimiter: str
    columns: tuple[Column, ...]
    path: PathT


@dataclass(frozen=True)
class Step:
    """One call (operation set) or a group of steps (children set)."""

    path: PathT  # ("steps", 2) or ("steps", 2, "steps", 0)
    id: str
    name: str | None
    operation: str | None
    params: dict[str, Any]
    line: int
    loop: Loop | None
    when: str | bool | None
    tags: tuple[str, ...]
    children: tuple[Step, ...]
    # max_failures: as written (10 or "5%"; the schema checks its shape): failed calls of
    # this step, or failed items of this group, the run goes past (runner.executor)
    max_failures: int | str | None = None

    @property
    def op(self) -> Operation:
        """The registry's record of this step's operation (a group has none)."""
        assert self.operation is not None, f"step {self.id} is a group"
        return operations.get(self.operation)

    @property
    def op_path(self) -> PathT:
        return (*self.path, self.operation) if self.operation else self.path

    def with_inner(self) -> list[Step]:
        """This step and every step inside it, in order."""
        return [self, *(s for c in self.children for s in c.with_inner())]


@dataclass(frozen=True)
class Playbook:
    file: str
    path: Path
    name: str
    target: dict[str, Any] | None
    vars: dict[str, Any]
    steps: tuple[Step, ...]
    doc: Document

    def all_steps(self) -> list[Step]:
        return [s for top in self.steps for s in top.with_inner()]


def _loop(raw: Any, path: PathT) -> Loop | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        listed = raw.get("columns")  # anything but a list is the schema's to report
        columns = tuple(
            Column(str(c["name"]), bool(c.get("required", False)), str(c.get("type", "string")))
            for c in (listed if isinstance(listed, list) else []) if isinstance(c, dict)
            and "name" in c)
        return Loop(raw.get("items"), raw.get("file"), raw.get("format"),
                    str(raw.get("delimiter") or ","), columns, path)
    return Loop(raw, None, None, ",", (), path)


def _steps(raw: Any, base: PathT, doc: Document) -> tuple[Step, ...]:
    out = []
    for i, step in enumerate(raw if isinstance(raw, list) else []):
        path = (*base, i)
        if not isinstance(step, dict) or not isinstance(step.get("id"), str):
            continue
        ops = [k for k in operations.NAMES if isinstance(step.get(k), dict)]
        children = _steps(step.get("steps"), (*path, "steps"), doc)
        if len(ops) + ("steps" in step) != 1:
            continue
        tags: list[Any] = step["tags"] if isinstance(step.get("tags"), list) else []
        out.append(Step(path, step["id"], step.get("name"), ops[0] if ops else None,
                        step[ops[0]] if ops else {}, doc.locate(path).line,
                        _loop(step.get("loop"), (*path, "loop")), step.get("when"),
                        tuple(str(t) for t in tags), children,
                        step.get("max_failures") if isinstance(step.get("max_failures"), int | str)
                        else None))
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
                 if not unreadable or not p.path.startswith(unreadable)]
    data = doc.data
    playbook = Playbook(
        file=doc.file,
        path=path,
        name=str(data.get("name") or Path(path).stem),
        target=data.get("target") if isinstance(data.get("target"), dict) else None,
        vars=dict(data["vars"]) if isinstance(data.get("vars"), dict) else {},
        steps=_steps(data.get("steps"), ("steps",), doc),
        doc=doc,
    )
    return playbook, sorted(problems, key=lambda p: p.location)
