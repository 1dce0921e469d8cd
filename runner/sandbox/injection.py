"""Deterministic fault injection: which fault, if any, the Nth SOAP request gets.

The draw is a pure function of (seed, N): the first 8 bytes of sha256("seed:N") as a
number in [0, 1), laid against the kinds' rates stacked in `FAULT_KINDS` order. N counts
every POST that reaches the SOAP endpoint since the server started (from 1), so a seed
replays the same faults for the same sequence of requests, whatever their content. A
request whose operation is outside `FaultPlan.operations` still takes its N but is never
faulted.
"""

from __future__ import annotations

import hashlib
import itertools
import re

from runner.sandbox.config import FAULT_KINDS, FaultPlan

# The Body's params<Op> element, found without parsing (only needed to filter operations).
_OPERATION = re.compile(rb"<(?:[\w.-]+:)?params(\w)(\w*)[\s/>]")
INJECTED_FAULT_CODES = {"fault20016": 20016, "fault20023": 20023, "fault20024": 20024}
# Kinds answered by "a gateway" after the service has acted: the status it answers with.
ACTED_THEN_GATEWAY = {"http502_after": 502, "http504_after": 504}
GATEWAY_PAGES = {502: b"<html><body><h1>502 Bad Gateway</h1></body></html>\n",
                 504: b"<html><body><h1>504 Gateway Time-out</h1></body></html>\n"}


def draw(seed: int, n: int) -> float:
    digest = hashlib.sha256(f"{seed}:{n}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose(plan: FaultPlan, n: int) -> str | None:
    """The kind of fault request `n` gets under `plan`, or None."""
    point, edge = draw(plan.seed, n), 0.0
    for kind in FAULT_KINDS:
        edge += getattr(plan, kind)
        if point < edge:
            return kind
    return None


def operation_of(body: bytes) -> str | None:
    match = _OPERATION.search(body)
    return (match[1].decode().lower() + match[2].decode()) if match else None


class Injector:
    """Numbers the requests and decides their faults. Thread-safe: `itertools.count` is
    atomic under the GIL, and the decision itself is pure."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.active = plan.active  # the plan is frozen; asked on every request
        self._numbers = itertools.count(1)

    def next(self, body: bytes) -> tuple[int, str | None, str | None]:
        """(N, the fault kind or None, the operation when it had to be read)."""
        n = next(self._numbers)
        if not self.active:
            return n, None, None
        kind = choose(self.plan, n)
        operation = operation_of(body) if kind or self.plan.operations else None
        if kind and self.plan.operations and operation not in self.plan.operations:
            kind = None
        return n, kind, operation
