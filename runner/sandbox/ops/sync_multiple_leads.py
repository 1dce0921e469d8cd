"""syncMultipleLeads: insert or update up to 300 leads (mktows-reference.md §3.3).

One status per record, in input order. A record that cannot be synced (no key, a foreign
id without its type, an Id that does not exist) gets status FAILED with the error text and
does not stop the others. An unknown attribute anywhere faults the whole call (20105)
before anything is written, as syncLead does: Marketo reports it as an import of unknown
fields, which is about the batch's columns, not one record. No context header: new leads
go to an assignment rule's partition or the Default workspace's primary partition.
"""

from __future__ import annotations

from collections import Counter

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.ops.base import Call
from runner.sandbox.ops.upsert import (
    LeadInput,
    Options,
    check_fields,
    check_keys,
    read_lead_record,
    upsert,
)
from runner.sandbox.params import boolean, children, required

MAX_RECORDS = 300


def sync_multiple_leads(call: Call) -> str:
    elements = children(required(call.params, "leadRecordList"), "leadRecord")
    if len(elements) > MAX_RECORDS:
        raise Fault(20110, f"Bad Parameter: {len(elements)} lead records exceed the limit of"
                           f" {MAX_RECORDS}")
    records = [read_lead_record(e) for e in elements]
    check_fields(call.operation, records, call.fixture)
    dedup = boolean(call.params, "dedupEnabled")
    # Email is only updated on a lead found by Id when it is also an attribute (§3.3).
    options = Options(dedup=True if dedup is None else dedup, email_follows_id=False,
                      workspaces_enabled=call.config.workspaces_enabled,
                      require_key=call.config.strict)
    synced = [_sync(call, record, options) for record in records]
    counts = Counter(status for _, status in synced)
    call.notes.append(", ".join(f"{counts[s]} {s}" for s in ("CREATED", "UPDATED", "FAILED")))
    return replies.result(replies.wrap("syncStatusList", *(xml for xml, _ in synced)))


def _sync(call: Call, record: LeadInput, options: Options) -> tuple[str, str]:
    try:
        check_keys(record, None, options)
        with call.store.transaction():  # a savepoint: a failed record leaves no trace
            lead, status = upsert(call.store, call.fixture, record, options)
    except Fault as fault:
        # leadId is required and not nillable even on FAILED; what Marketo puts there is
        # unknown: the record's own Id when it has one, else 0 (no lead).
        return replies.sync_status(record.id or 0, "FAILED", fault.message), "FAILED"
    return replies.sync_status(lead.id, status), status
