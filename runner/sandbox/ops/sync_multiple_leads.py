"""syncMultipleLeads: insert or update up to 300 leads (mktows-reference.md §3.3).

The whole batch is one transaction. A record that cannot be synced (no key, or an Id that
does not exist) gets status FAILED and does not stop the others; an unknown attribute
anywhere faults the whole call before anything is written, as syncLead does.
"""

from __future__ import annotations

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.ops.base import Call
from runner.sandbox.ops.upsert import LeadInput, Options, check_fields, read_lead_record, upsert
from runner.sandbox.params import boolean, children, required

MAX_RECORDS = 300


def sync_multiple_leads(call: Call) -> str:
    elements = children(required(call.params, "leadRecordList"), "leadRecord")
    if len(elements) > MAX_RECORDS:
        raise Fault(20110, f"{len(elements)} lead records exceed the limit of {MAX_RECORDS}")
    records = [read_lead_record(e) for e in elements]
    check_fields(call.operation, records, call.fixture)
    dedup = boolean(call.params, "dedupEnabled")
    # Email is only updated on a lead found by Id when it is also an attribute (§3.3).
    options = Options(dedup=True if dedup is None else dedup, email_follows_id=False)
    with call.store.transaction():
        statuses = [_sync(call, record, options) for record in records]
    return replies.result(replies.wrap("syncStatusList", *statuses))


def _sync(call: Call, record: LeadInput, options: Options) -> str:
    if not record.has_key:
        # leadId is required and not nillable even on FAILED; what Marketo puts there is
        # unknown, so 0 (no lead).
        return replies.sync_status(0, "FAILED", "leadRecord needs an Id, Email or"
                                                " ForeignSysPersonId")
    try:
        lead, status = upsert(call.store, call.fixture, record, options)
    except Fault as fault:
        return replies.sync_status(record.id or 0, "FAILED", fault.message)
    return replies.sync_status(lead.id, status)
