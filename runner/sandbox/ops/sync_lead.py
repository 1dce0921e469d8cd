"""syncLead: insert or update one lead (mktows-reference.md §3.2)."""

from __future__ import annotations

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.ops.base import Call
from runner.sandbox.ops.upsert import Options, check_fields, read_lead_record, upsert
from runner.sandbox.params import boolean, required, text


def sync_lead(call: Call) -> str:
    record = read_lead_record(required(call.params, "leadRecord"))
    return_lead = boolean(call.params, "returnLead") or False
    cookie = text(call.params, "marketoCookie") or None
    check_fields(call.operation, [record], call.fixture)
    if not record.has_key and cookie is None:
        raise Fault(20101, "leadRecord needs an Id, Email or ForeignSysPersonId")
    options = Options(cookie=cookie, workspace=_workspace(call))
    with call.store.transaction():
        lead, status = upsert(call.store, call.fixture, record, options)
    return replies.result(
        replies.el("leadId", lead.id),
        replies.sync_status(lead.id, status),
        replies.lead_record(lead, call.fixture) if return_lead else replies.el("leadRecord", None),
    )


def _workspace(call: Call) -> str | None:
    if call.target_workspace is None:
        return None
    found = call.fixture.workspace(call.target_workspace)
    if found is None:
        raise Fault(20110, f"Unknown workspace: {call.target_workspace}")
    return found
