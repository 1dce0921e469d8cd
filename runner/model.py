"""Plain data records shared by the pipeline stages. Stdlib only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Literal(str):
    """A string written with the YAML `!literal` tag: no `${...}` substitution in it."""


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file; line and column are 1-based."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, with where it is and how to fix it."""

    location: Location
    path: str  # JSON path in the playbook, e.g. "steps[1].syncLead.returnLead"
    message: str
    hint: str | None = None

    def render(self) -> str:
        head = f"{self.location}: {self.path}: {self.message}" if self.path else (
            f"{self.location}: {self.message}"
        )
        return head + (f"\n    hint: {self.hint}" if self.hint else "")


@dataclass(frozen=True)
class HttpReply:
    status: int
    content_type: str
    body: bytes


@dataclass
class StepResult:
    id: str
    operation: str
    status: str  # ok | failed | skipped
    line: int
    duration_s: float = 0.0
    outputs: dict[str, Any] = field(default_factory=dict)
    fault_code: int | None = None
    fault_message: str | None = None
    attempts: int = 0


@dataclass
class RunResult:
    playbook: str
    started_at: str
    finished_at: str = ""
    endpoint: str = ""
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.status != "failed" for s in self.steps)
