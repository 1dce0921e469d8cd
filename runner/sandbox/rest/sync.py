"""Sync Leads, `POST /rest/v1/leads.json` (marketo-rest-reference.md §3.1, §9.5).

One result per input record, in input order: `created` / `updated` with the lead's id, or
`skipped` with a reason and no id. A record is skipped before its first write (`_sync`
checks everything first), so a skipped record leaves no trace and does not stop the
others. Values are stored the way SOAP stores them (strings under the field's SOAP name),
so either API reads what the other wrote.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from runner.sandbox.rest.call import RestCall, member
from runner.sandbox.rest.envelope import Answer, RestError, skipped
from runner.sandbox.rest.fields import InvalidValue
from runner.sandbox.rest.lookup import find
from runner.sandbox.rest.partitions import Partition
from runner.sandbox.store import Lead

ACTIONS = ("createOrUpdate", "createOnly", "updateOnly", "createDuplicate")
MAX_RECORDS = 300


class _Skip(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        self.result = skipped(code, message)
        super().__init__(code)


def sync_leads(call: RestCall) -> Answer:
    data = call.body() or {}
    action = data.get("action", "createOrUpdate")
    if action not in ACTIONS:
        raise RestError(1003, f"Invalid data: action '{action}' is not one of "
                              + ", ".join(ACTIONS))
    records = member(data, "input")
    if not isinstance(records, list):
        raise RestError(1003, "Invalid data: input must be a list of leads")
    if len(records) > MAX_RECORDS:
        raise RestError(1003, f"Invalid data: more than {MAX_RECORDS} records in input")
    partition = _partition(call, data.get("partitionName"), action)
    lookup = data.get("lookupField", "email")
    results = [sync_one(call, record, action, str(lookup), partition) for record in records]
    counts = Counter(r["status"] for r in results)
    call.notes.append(", ".join(f"{counts[s]} {s}" for s in ("created", "updated", "skipped")))
    if data.get("asyncProcessing") is True:
        # Reference §10 q4: undocumented reply. The work is done, but the reply holds no id
        # and no outcome, so a client cannot come to rely on them.
        return Answer([{"status": "queued"} for _ in results])
    return Answer(results)


def sync_one(call: RestCall, record: Any, action: str, lookup: str,
             partition: Partition | None) -> dict[str, Any]:
    """One record as Sync Leads syncs it (Bulk Import's rows too): `{id, status}`, or a
    `skipped` result that wrote nothing."""
    try:
        # No savepoint of its own: _sync raises every _Skip before its first write (a
        # savepoint per record cost more than the record's insert).
        return _sync(call, record, action, lookup, partition)
    except _Skip as skip:
        return skip.result


def partition_named(call: RestCall, name: Any, action: str) -> Partition | None:
    return _partition(call, name, action)


def _partition(call: RestCall, name: Any, action: str) -> Partition | None:
    if name is None:
        return None
    if action not in ("createOnly", "createOrUpdate"):
        raise RestError(1003, "Invalid data: partitionName is only allowed with createOnly"
                              " or createOrUpdate")
    found = call.partitions.named(str(name))
    if found is None:
        raise RestError(1003, f"Invalid data: no lead partition named '{name}'")
    return found


def _sync(call: RestCall, record: Any, action: str, lookup: str,
          partition: Partition | None) -> dict[str, Any]:
    # Every _Skip comes before _create's or _update's first write: keep it so (sync_one).
    if not isinstance(record, dict):
        raise _Skip(1003, "Invalid data: a lead must be a JSON object")
    values = _values(call, record, action)
    if action == "createDuplicate":
        return _create(call, values, partition)
    field = call.fields.get(lookup)
    if field is None:
        raise _Skip(1006, f"Field '{lookup}' not found")
    if not field.searchable:
        raise _Skip(1011, f"Field '{lookup}' not supported")
    key = record.get(lookup)
    if key is None or key == "":
        raise _Skip(1002, f"Missing value for the required parameter '{lookup}'")
    try:
        matches = find(call, field, str(key))
    except RestError as exc:
        raise _Skip(exc.code, exc.message) from None
    if action == "createOnly":
        if matches:
            raise _Skip(1005)
        return _create(call, values, partition)
    if len(matches) > 1:
        raise _Skip(1007, "Multiple lead match lookup criteria")  # the live text (§3.1)
    if not matches:
        if action == "updateOnly":
            raise _Skip(1004)
        return _create(call, values, partition)
    lead = matches[0]
    if partition is not None and lead.partition != partition.name:
        raise _Skip(1010, "Partition update not allowed")
    return _update(call, lead, values)


def _values(call: RestCall, record: dict[str, Any], action: str) -> dict[str, str]:
    """The record's fields by REST name, checked and in the store's form."""
    out = {}
    for name, value in record.items():
        field = call.fields.get(name)
        if field is None:
            raise _Skip(1006, f"Field '{name}' not found")
        if name == "id":
            if action != "updateOnly":
                raise _Skip(1003, "Invalid data: id is only allowed with updateOnly")
            continue  # the lookup key, never written
        if field.read_only:
            # Reference §10 (read-only REST fields): 1003 or 1006 is unverified.
            raise _Skip(1003, f"Invalid data: field '{name}' is read-only")
        try:
            out[name] = call.fields.write(field, value)
        except InvalidValue as bad:
            raise _Skip(1003, f"Invalid value for field '{name}' and value '{bad}'") from None
    return out


def _create(call: RestCall, values: dict[str, str], partition: Partition | None
            ) -> dict[str, Any]:
    attributes = _attributes(call, values, {})
    if partition is None and call.config.workspaces_enabled:
        name = call.fixture.assigned_partition(attributes)
        partition = call.partitions.named(name) if name else None
    lead = Lead(0, values.get("email") or None, None, None, None,
                (partition or call.partitions.default).name, attributes)
    lead = call.store.insert(_with_cookie(call, lead, values))
    return {"id": lead.id, "status": "created"}


def _update(call: RestCall, lead: Lead, values: dict[str, str]) -> dict[str, Any]:
    email = values["email"] or None if "email" in values else lead.email
    updated = replace(lead, email=email, attributes=_attributes(call, values, lead.attributes))
    call.store.update(_with_cookie(call, updated, values))
    return {"id": lead.id, "status": "updated"}


def _attributes(call: RestCall, values: dict[str, str], old: dict[str, str]) -> dict[str, str]:
    attributes = dict(old)
    for name, value in values.items():
        field = call.fields.get(name)
        if field is not None and field.key is not None:
            attributes[field.key] = value
    return attributes


def _with_cookie(call: RestCall, lead: Lead, values: dict[str, str]) -> Lead:
    """`cookies` sets the lead's Munchkin cookie; another lead holding it gives it up."""
    cookie = values.get("cookies")
    if cookie is None:
        return lead
    if cookie:
        call.store.release_cookie(cookie, keep=lead.id)
    return replace(lead, cookie=cookie or None)
