"""Lead reads: Describe Lead (both APIs' names), Describe2, partitions, Get Leads by filter
and by id (marketo-rest-reference.md §3.2, §3.3, §3.9)."""

from __future__ import annotations

from typing import Any

from runner.sandbox.rest import paging
from runner.sandbox.rest.call import RestCall, required
from runner.sandbox.rest.envelope import Answer, RestError
from runner.sandbox.rest.fields import RestField
from runner.sandbox.rest.lookup import COOKIE, find
from runner.sandbox.rest.request import listed, one
from runner.sandbox.store import Lead

DEFAULT_FIELDS = ("id", "email", "updatedAt", "createdAt", "firstName", "lastName")
MAX_VALUES = 300
MAX_MATCHES = 1000


def describe(call: RestCall) -> Answer:
    with_soap = call.config.rest.describe_soap_names
    out = []
    for f in call.fields.all:
        item: dict[str, Any] = {"id": f.id, "displayName": f.label, "dataType": f.data_type}
        if f.length is not None:
            item["length"] = f.length
        item["rest"] = {"name": f.rest, "readOnly": f.read_only}
        if f.soap is not None and with_soap:
            item["soap"] = {"name": f.soap, "readOnly": False}  # SOAP writes every field
        out.append(item)
    return Answer(out)


def describe2(call: RestCall) -> Answer:
    fields = []
    for f in call.fields.all:
        item: dict[str, Any] = {"name": f.rest, "displayName": f.label, "dataType": f.data_type}
        if f.length is not None:
            item["length"] = f.length
        fields.append({**item, "updateable": not f.read_only, "crmManaged": False})
    searchable = [[f.rest] for f in call.fields.all if f.searchable]
    return Answer([{"name": "API Lead", "searchableFields": searchable, "fields": fields}])


def partitions(call: RestCall) -> Answer:
    return Answer([{"id": p.id, "name": p.name, "description": p.description}
                   for p in call.partitions.all])


def get_leads(call: RestCall) -> Answer:
    params = call.params()
    filter_type = required(params, "filterType")
    required(params, "filterValues")
    values = listed(params, "filterValues") or []
    field = call.fields.get(filter_type)
    if field is None or not field.searchable:
        # The text a live instance sent for filterType=createdAt (marketo-rest-python#53).
        raise RestError(1011, f"Lookup field '{filter_type}' not supported")
    if len(values) > MAX_VALUES:
        raise RestError(1003, f"Invalid data: more than {MAX_VALUES} filterValues")
    if field.column == "cookie":
        bad = next((v for v in values if not COOKIE.fullmatch(v)), None)
        if bad is not None:
            raise RestError(1012, f"Invalid cookie value '{bad}'")
    wanted = lead_fields(call, params)
    size = paging.batch_size(one(params, "batchSize"))
    found: dict[int, Lead] = {}
    for value in values:
        found.update((lead.id, lead) for lead in find(call, field, value))
    if len(found) > MAX_MATCHES:
        raise RestError(1003, "Too many results match the filter")
    leads = [found[i] for i in sorted(found)]
    query = ("leads", filter_type, tuple(values), tuple(f.rest for f in wanted))
    chunk, extra = paging.page(leads, one(params, "nextPageToken"), size, query)
    call.notes.append(f"{len(leads)} lead(s) match")
    return Answer([lead_record(call, lead, wanted) for lead in chunk], extra)


def get_lead(call: RestCall) -> Answer:
    """One lead by id; an unknown id is an empty `result` (reference §3.2)."""
    wanted = lead_fields(call, call.params())
    lead = call.store.get(call.path_id())
    return Answer([lead_record(call, lead, wanted)] if lead else [])


def lead_fields(call: RestCall, params: dict[str, list[str]]) -> list[RestField]:
    """The requested fields (the default six without `fields`). An unknown name is 1006:
    reference §10 q9 leaves open whether it errs or is dropped; an error shows the mistake."""
    names = listed(params, "fields")
    if not names:
        return [f for n in DEFAULT_FIELDS if (f := call.fields.get(n)) is not None]
    wanted = []
    for name in names:
        found = call.fields.get(name)
        if found is None:
            raise RestError(1006, f"Field '{name}' not found")
        wanted.append(found)
    return wanted


def lead_record(call: RestCall, lead: Lead, wanted: list[RestField]) -> dict[str, Any]:
    """`id` first, then each requested field; empty ones are null (reference §3.2)."""
    out: dict[str, Any] = {"id": lead.id}
    for f in wanted:
        out[f.rest] = call.fields.read(lead, f)
    return out
