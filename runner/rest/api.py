"""The REST session a run holds: one target's identity, client and cached lookups, behind the
RestApi the operations' REST encodings call (runner/operations/spec.py).

    session = RestSession(target, HttpTransport(...), pacer=limiter,
                          on_token=plan.redactor.add)
    outputs = session.send("requestCampaign", call.params)

Every method raises runner.errors types only: RestError (Marketo said no, or the runner
refused before sending; CredentialError and RestFieldError are RestErrors),
TransportError (no complete answer; `sent` says whether the write may have left),
ResponseError (an answer that is not Marketo's JSON). runner.retry.decide judges them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runner.errors import RestError
from runner.operations import get as get_operation
from runner.operations.spec import Operation, RestSettings, Waiter
from runner.rest import bodies, lookups
from runner.rest.client import PAGE_SIZE, Pacer, RestClient, Upload
from runner.rest.fields import DESCRIBE, Fields
from runner.rest.identity import Http, Identity
from runner.secrets import Secret

CLONES_PER_DAY = 20  # schedule calls with cloneToProgramName a day (1020, §3.5)


@dataclass(frozen=True)
class RestTarget:
    """A Marketo instance over REST (Admin > Web Services; Admin > LaunchPoint)."""

    rest_endpoint: str  # https://<munchkin>.mktorest.com/rest
    identity_endpoint: str  # https://<munchkin>.mktorest.com/identity
    client_id: str
    client_secret: Secret = field(repr=False)
    partitions: Mapping[str, str] | None = None  # workspace -> partition; None: same name
    foreign_id_field: str | None = None  # REST name of the field for ForeignSysPersonId
    partner_id: str | None = None  # LaunchPoint partners only (§2.1)

    @classmethod
    def for_munchkin(cls, munchkin_id: str, client_id: str, client_secret: Secret,
                     **options: Any) -> RestTarget:
        """Both endpoints from the Munchkin id (e.g. 123-ABC-456), as Marketo derives them."""
        host = f"https://{munchkin_id.strip().lower()}.mktorest.com"
        return cls(f"{host}/rest", f"{host}/identity", client_id, client_secret, **options)

    @property
    def settings(self) -> RestSettings:
        return RestSettings(self.partitions, self.foreign_id_field)


class RestSession:
    """RestApi for one run against one target. Thread-safe; its caches live as long as it."""

    def __init__(self, target: RestTarget, transport: Http, *, pacer: Pacer | None = None,
                 on_token: Callable[[str], None] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 identity: Identity | None = None, page_size: int = PAGE_SIZE,
                 clone_limit: int | None = CLONES_PER_DAY,
                 waiter: Waiter | None = None) -> None:
        self.target = target
        self.settings = target.settings
        self.waiter = waiter or Waiter()
        self.identity = identity or Identity(target.identity_endpoint, target.client_id,
                                             target.client_secret, transport,
                                             partner_id=target.partner_id, on_token=on_token)
        self.client = RestClient(target.rest_endpoint, self.identity, transport, pacer=pacer,
                                 page_size=page_size)
        self.fields = Fields(self._describe)
        self.campaigns = lookups.Campaigns(self.client)
        self.lists = lookups.Lists(self.client)
        self.partitions = lookups.Partitions(self.client, target.partitions)
        self._now = now
        self._clone_limit = clone_limit
        self._clones = 0
        self._lock = threading.Lock()

    # -- the executor's entry point ---------------------------------------------------------
    def send(self, operation: Operation | str, params: dict[str, Any]) -> dict[str, Any]:
        """One operation call over REST: the outputs its SOAP reader would give."""
        op = get_operation(operation) if isinstance(operation, str) else operation
        if op.rest is None:
            raise RestError(None, f"{op.name} is not available over REST")
        return op.rest.send(op.with_defaults(params), self)

    def field_problems(self, names: Iterable[str]) -> list[str]:
        """Each SOAP lead field name a run writes that REST cannot (asks Describe once)."""
        return self.fields.map.problems(names, write=True)

    # -- RestApi ----------------------------------------------------------------------------
    def get(self, path: str, query: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.client.call("GET", path, query=query)

    def post(self, path: str, body: dict[str, Any] | None = None, *, schema: str | None = None,
             query: Mapping[str, str] | None = None) -> dict[str, Any]:
        if schema is not None and body is not None:
            bodies.check(schema, body)
        return self.client.call("POST", path, query=query, body=body)

    def delete(self, path: str, body: dict[str, Any] | None = None, *,
               schema: str | None = None) -> dict[str, Any]:
        if schema is not None and body is not None:
            bodies.check(schema, body)
        return self.client.call("DELETE", path, body=body)

    def upload(self, path: str, query: Mapping[str, str], data: bytes,
               content_type: str) -> dict[str, Any]:
        return self.client.call("POST", path, query=query, upload=Upload(data, content_type))

    def file(self, path: str) -> str:
        return self.client.file(path)

    def records(self, path: str, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        return self.client.pages(path, query)

    def list_id(self, name: str, program: str | None = None) -> int:
        return self.lists.id(name, program)

    def import_field(self, column: str) -> str:
        return self.fields.map.import_name(column)

    def leads_by_key(self, key_type: str, values: Sequence[str]) -> dict[str, list[int]]:
        return lookups.leads_by_key(self.client, key_type, values)

    def rest_field(self, soap_name: str, *, write: bool) -> str:
        return self.fields.map.rest_name(soap_name, write=write)

    def lead_fields(self) -> Mapping[str, str]:
        return self.fields.map.to_soap

    def campaign_id(self, program: str, campaign: str, *, triggerable: bool) -> int:
        return self.campaigns.id(program, campaign, triggerable=triggerable)

    def lead_ids(self, key_type: str, values: Sequence[str]) -> list[int]:
        return lookups.lead_ids(self.client, key_type, values)

    def partition(self, workspace: str) -> str:
        return self.partitions.of(workspace)

    def take_clone(self) -> None:
        with self._lock:
            if self._clone_limit is not None and self._clones >= self._clone_limit:
                raise RestError(1020, f"this run already scheduled {self._clones} campaign(s) "
                                      f"with cloneToProgramName; Marketo allows "
                                      f"{self._clone_limit} a day (1020), so this one was not "
                                      "sent")
            self._clones += 1

    def now(self) -> datetime:
        return self._now()

    def _describe(self) -> list[Any]:
        result = self.get(DESCRIBE).get("result")
        return result if isinstance(result, list) else []
