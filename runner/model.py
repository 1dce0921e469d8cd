"""Plain data records shared by the pipeline stages. Stdlib only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Literal(str):
    """A string written with the YAML `!literal` tag: no `${...}` substitution in it."""


@dataclass(frozen=True)
class Column:
    """A declared field of loop items: checked and converted on every row."""

    name: str
    required: bool = False
    type: str = "string"  # string | integer | number | boolean


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file; line and column are 1-based."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        # A data row has a line but no meaningful column: `leads.csv:17: Email is empty`.
        return f"{self.file}:{self.line}:{self.col}" if self.col > 0 else f"{self.file}:{self.line}"


class LocatedError(ValueError):
    """Bad input found while streaming a file (a data row), with where it is."""

    def __init__(self, where: Location, message: str) -> None:
        super().__init__(f"{where.file}:{where.line}: {message}")
        self.where = where
        self.message = message


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


CALL_STATUSES = ("ok", "failed", "ambiguous", "skipped")


@dataclass
class Retry:
    """One attempt that did not settle the call and was tried again."""

    attempt: int
    reason: str  # e.g. "fault 20023", "HTTP 503", "connection refused"
    wait_s: float


@dataclass
class CallResult:
    """One SOAP call of a step: an item, a batch, or the step's only call."""

    key: str
    label: str
    status: str  # ok | failed | ambiguous | skipped
    attempts: int = 0
    duration_s: float = 0.0
    outputs: dict[str, Any] = field(default_factory=dict)
    fault_code: int | None = None
    fault_message: str | None = None
    # failed: "fault" (Marketo answered with a Fault) | "transport" | "response";
    # ambiguous: "ambiguous" (sent, no answer: Marketo may have acted)
    error_kind: str | None = None
    retries: list[Retry] = field(default_factory=list)
    resumed: bool = False  # settled by an earlier run (from its journal), not sent now


_PRECEDENCE = ("failed", "ambiguous", "ok", "skipped")


@dataclass
class StepResult:
    id: str
    operation: str | None
    status: str  # ok | failed | ambiguous | skipped | interrupted (the run stopped inside it)
    line: int
    name: str | None = None
    calls: list[CallResult] = field(default_factory=list)
    # interrupted: why the step stopped and how far it got ("... 16 of 100 calls made")
    note: str | None = None

    def add(self, call: CallResult) -> None:
        # Kept current call by call: a 50,000-item loop must not rescan its calls each time.
        self.status = call.status if not self.calls else min(
            self.status, call.status, key=_PRECEDENCE.index)
        self.calls.append(call)

    @property
    def duration_s(self) -> float:
        return round(sum(c.duration_s for c in self.calls), 6)

    @property
    def attempts(self) -> int:
        return sum(c.attempts for c in self.calls)

    @property
    def outputs(self) -> dict[str, Any]:
        return self.calls[-1].outputs if len(self.calls) == 1 else {}

    @property
    def failure(self) -> CallResult | None:
        return next((c for c in self.calls if c.status in ("failed", "ambiguous")), None)


@dataclass
class DataFile:
    """A data file a playbook reads, as a reviewer must see it: where it really is."""

    name: str  # as the playbook writes it
    path: str  # resolved, symlinks followed
    outside: bool  # not under the playbook's repository (or folder, outside a repository)


@dataclass
class Tolerance:
    """A loop that went past failed calls (max_failures): a step counts its failed calls, a
    looped group its failed items. Reported whenever it had a failure, within the limit or
    not; its steps are still `failed`."""

    id: str  # the step's or the group's id
    kind: str  # step | group
    limit: str  # as set: "10" or "5%"
    total: int  # planned calls (a step) or items (a group)
    allowed: int  # failures tolerated out of `total`
    failed: int = 0  # failed calls (a step) or items (a group) so far
    exceeded: bool = False  # one more than `allowed` failed: the run stopped there

    def describe(self) -> str:
        """`step import: 3 of 3000 calls failed (max_failures 5%: 150 allowed); the run went
        on` (or `... stopped the run`)."""
        noun = "calls" if self.kind == "step" else "items"
        end = "more than allowed: the run stopped" if self.exceeded else "the run went on"
        return (f"{self.kind} {self.id}: {self.failed} of {self.total} {noun} failed "
                f"(max_failures {self.limit}: {self.allowed} allowed); {end}")


@dataclass
class RunResult:
    playbook: str
    started_at: str
    finished_at: str = ""
    endpoint: str = ""
    name: str = ""
    run_id: str = ""
    interrupted: bool = False
    steps: list[StepResult] = field(default_factory=list)
    data_files: list[DataFile] = field(default_factory=list)
    preflight: str | None = None  # what the read-only checks before the first write established
    # loops with a max_failures that had failures (within the limit or past it)
    max_failures: list[Tolerance] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(s.status in ("ok", "skipped") for s in self.steps)

    @property
    def status(self) -> str:
        if self.interrupted:
            return "interrupted"
        present = {s.status for s in self.steps}
        return "failed" if "failed" in present else "ambiguous" if "ambiguous" in present else "ok"
