"""The record every operation module fills in: what the runner knows about one Marketo
operation, API-neutral, plus one small encoding per API (SOAP today). Stdlib only.

A new operation is one new module beside this one that defines `OPERATION`, listed in
`runner/operations/__init__.py` (see docs/architecture.md, "Adding an operation").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

PathT = tuple[str | int, ...]
Finding = tuple[PathT, str, str | None]  # (path inside the operation's params, message, hint)
Params = dict[str, Any]


@dataclass(frozen=True)
class Output:
    """One output a later step reads as ${steps.<id>.<name>}."""

    type: str  # int | str | bool | list | dict | str?  (a "?" suffix: may be null)
    doc: str
    sample: Any  # a value of the right type, used when a run-time value is not yet known
    item: Any = None  # a sample element, for references into a list or record output


@dataclass(frozen=True)
class Batching:
    """A list the runner splits into several calls, at most `size` elements a call
    (Marketo's own limit: past it Marketo faults or silently drops elements)."""

    field: str
    size: int


@dataclass(frozen=True)
class SoapEncoding:
    """How the operation travels over mktows SOAP."""

    # resolved params (defaults applied) -> the request element's content, keyed by WSDL names
    encode: Callable[[Params], Params]
    # the success element's <result> -> the operation's outputs
    read: Callable[[Element], dict[str, Any]]
    # params that travel in a SOAP header instead of the body
    header_params: tuple[str, ...] = ()


def no_findings(params: Params) -> Iterator[Finding]:
    return iter(())


def no_record_failures(outputs: dict[str, Any]) -> str | None:
    return None


@dataclass(frozen=True)
class Operation:
    name: str  # as in the WSDL and in playbooks
    doc: str  # one line: what it does, for plans and `--version`
    outputs: Mapping[str, Output]
    summary: Callable[[Params], str]  # the plan's one-line description of a call's params
    soap: SoapEncoding
    defaults: Mapping[str, Any] = field(default_factory=dict)
    batching: Batching | None = None
    # May it be sent again when the outcome of a sent request is unknown? An upsert or a
    # read may; a campaign call may not (people could be emailed twice).
    idempotent: bool = True
    # Is a looped step's output still visible after the loop (its batches' lists joined)?
    outputs_after_loop: bool = False
    # Marketo's rules JSON Schema cannot say, checked at load on the written params
    rules: Callable[[Params], Iterator[Finding]] = no_findings
    # a reply that succeeded as a call but failed records: what to report, or None
    failed_records: Callable[[dict[str, Any]], str | None] = no_record_failures
    # does a call change data in Marketo (and so must wait for every check to pass)?
    writes: bool = True

    def with_defaults(self, params: Params) -> Params:
        return {**self.defaults, **params}
