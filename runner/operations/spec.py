"""The record every operation module fills in: what the runner knows about one Marketo
operation, API-neutral, plus one small encoding per API (SOAP, REST). Stdlib only.

A new operation is one new module beside this one that defines `OPERATION`, listed in
`runner/operations/__init__.py` (see docs/architecture.md, "Adding an operation").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
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
    # (param, value) pairs the calls after a step's first send instead of what the playbook
    # wrote (importToList's clearList: a list is cleared once, by the first import)
    later: tuple[tuple[str, Any], ...] = ()


class Waiter:
    """How a call that waits for Marketo to finish its work (importToList) passes the time
    between its requests: a pause ends early when the run stops (Ctrl-C, SIGTERM: `stop` is
    the run's), and each status is said through `say` (the console's progress line). The
    default never stops and says nothing."""

    def __init__(self, stop: threading.Event | None = None,
                 say: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stop = stop if stop is not None else threading.Event()
        self.say: Callable[[str], None] = say or (lambda text: None)
        self.clock = clock

    def pause(self, seconds: float) -> bool:
        """Wait `seconds`; False when the run is stopping (the wait was cut short)."""
        return not self.stop.wait(max(0.0, seconds))


class SoapApi(Protocol):
    """What a SOAP encoding's follow-up may call: a request the runner makes on its own,
    built and XSD-checked like any call's body (runner.senders.SoapSender)."""

    def read(self, op: Operation, params: Params) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SoapEncoding:
    """How the operation travels over mktows SOAP."""

    # resolved params (defaults applied) -> the request element's content, keyed by WSDL names
    encode: Callable[[Params], Params]
    # the success element's <result> -> the operation's outputs
    read: Callable[[Element], dict[str, Any]]
    # params that travel in a SOAP header instead of the body
    header_params: tuple[str, ...] = ()
    # after a successful reply, the requests the call goes on to make before it settles
    # (importToList polls getImportToListStatus until the import is done): (params, the
    # reply's outputs, the API, the run's waiter) -> the call's outputs
    follow: Callable[[Params, dict[str, Any], SoapApi, Waiter], dict[str, Any]] | None = None


@dataclass(frozen=True)
class RestSettings:
    """What a REST target says that load-time checks need (runner/rest builds the rest)."""

    # workspace (SOAP's targetWorkspace) -> lead partition; None: a workspace's partition
    # has the workspace's name (no REST API reads the real map, reference §5.5)
    partitions: Mapping[str, str] | None = None
    # the custom lead field (REST name) that holds SOAP's ForeignSysPersonId; None: none
    foreign_id_field: str | None = None


class RestApi(Protocol):
    """What an operation's REST encoding may call: one REST call each for get/post (paced,
    re-authenticated, errors raised as runner.errors types), and the run's cached lookups.
    runner.rest.RestSession implements it."""

    settings: RestSettings
    waiter: Waiter  # between the requests of a call that waits (importToList's bulk job)

    def get(self, path: str, query: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The success envelope of a read (sent as POST ?_method=GET past 8 KB)."""
        ...

    def post(self, path: str, body: dict[str, Any] | None = None, *, schema: str | None = None,
             query: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The success envelope of a write; `body` is checked against
        schemas/rest/<schema>.schema.json first, and refused before sending if it fails."""
        ...

    def delete(self, path: str, body: dict[str, Any] | None = None, *,
               schema: str | None = None) -> dict[str, Any]:
        """The success envelope of a DELETE (Remove from List), `body` checked as post's."""
        ...

    def upload(self, path: str, query: Mapping[str, str], data: bytes,
               content_type: str) -> dict[str, Any]:
        """The success envelope of a multipart upload (Bulk Import: the `file` part)."""
        ...

    def file(self, path: str) -> str:
        """A reply that is a file, not JSON (Bulk Import's failures and warnings)."""
        ...

    def records(self, path: str, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """Every record of a paged read, following nextPageToken to the end."""
        ...

    def list_id(self, name: str, program: str | None = None) -> int:
        """A static list's id by its name (and program); RestError 1013 when none."""
        ...

    def import_field(self, column: str) -> str:
        """The REST name of an import file's column, written as the field's display name
        (as SOAP's importToList header names fields), SOAP name or REST name."""
        ...

    def leads_by_key(self, key_type: str, values: Sequence[str]) -> dict[str, list[int]]:
        """Each of `values` (a non-IDNUM LeadKey type) with the ids of the leads it matches."""
        ...

    def rest_field(self, soap_name: str, *, write: bool) -> str:
        """The REST name of a playbook's lead field; RestError naming it when it has none
        (or, for `write`, when REST cannot write it)."""
        ...

    def lead_fields(self) -> Mapping[str, str]:
        """REST name -> SOAP name of every lead field a SOAP lead record can carry."""
        ...

    def campaign_id(self, program: str, campaign: str, *, triggerable: bool) -> int: ...

    def lead_ids(self, key_type: str, values: Sequence[str]) -> list[int]:
        """The ids of the leads matching any of `values` (a non-IDNUM LeadKey type)."""
        ...

    def partition(self, workspace: str) -> str: ...

    def take_clone(self) -> None:
        """Count one schedule with cloneToProgramName; RestError past the daily limit."""
        ...

    def now(self) -> datetime: ...


def _no_rest_findings(params: Params, settings: RestSettings) -> Iterator[Finding]:
    return iter(())


def _nothing(params: Params) -> frozenset[str]:
    return frozenset()


def _no_notes(params: Params) -> list[str]:
    return []


def _no_fields(params: Params) -> Iterator[tuple[PathT, str]]:
    return iter(())


@dataclass(frozen=True)
class RestEncoding:
    """How the operation travels over Marketo's REST API (marketo-rest-reference.md §8).

    `params` are a call's resolved params in the playbook's SOAP vocabulary (Call.params,
    defaults applied or not; syncLead's targetWorkspace included when set)."""

    # does the REST calls; outputs of exactly the shape SoapEncoding.read gives
    send: Callable[[Params, RestApi], dict[str, Any]]
    # REST calls one call costs (counted ones; the run's cached lookups are in `once`)
    calls: Callable[[Params], int]
    # what REST cannot do for these params: load-time errors, each with a migration hint
    unsupported: Callable[[Params, RestSettings], Iterator[Finding]] = _no_rest_findings
    # the run's cached lookups the call needs, by name ("describe", "campaign:<p>/<c>", ...):
    # each distinct name costs one REST call a run
    once: Callable[[Params], frozenset[str]] = _nothing
    # what the plan should say about extra costs or changed behaviour over REST
    notes: Callable[[Params], list[str]] = _no_notes
    # the SOAP lead field names a call writes, with their paths (checked against Describe
    # before the run's first write)
    fields: Callable[[Params], Iterator[tuple[PathT, str]]] = _no_fields


@dataclass(frozen=True)
class Reference:
    """Something in Marketo a call's write depends on, checked by preflight with read-only
    calls before the run's first write (runner/preflight.py)."""

    kind: str  # "trigger" | "batch" (a campaign to request / schedule) | "workspace"
    path: PathT  # inside the operation's params, for the problem's location
    campaign_id: int | None = None
    program: str | None = None
    name: str | None = None  # campaign name, or the workspace's

    @property
    def key(self) -> tuple[object, ...]:
        return (self.kind, self.campaign_id, self.program, self.name)


def no_references(params: Params) -> Iterator[Reference]:
    return iter(())


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
    # what in Marketo a call depends on (campaigns, workspaces), for preflight
    references: Callable[[Params], Iterator[Reference]] = no_references
    # how it travels over REST (None: not available over REST)
    rest: RestEncoding | None = None

    def with_defaults(self, params: Params) -> Params:
        return {**self.defaults, **params}
