"""syncLead: insert or update one lead (mktows-reference.md §3.2; matching in upsert.py)."""

from __future__ import annotations

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.fixture import DEFAULT_WORKSPACE, Workspace
from runner.sandbox.ops.base import Call
from runner.sandbox.ops.upsert import (
    Options,
    check_fields,
    check_keys,
    read_lead_record,
    upsert,
)
from runner.sandbox.params import boolean, required, text


def sync_lead(call: Call) -> str:
    record = read_lead_record(required(call.params, "leadRecord"))
    return_lead = boolean(call.params, "returnLead") or False
    cookie = (text(call.params, "marketoCookie") or "").strip() or None
    check_fields(call.operation, [record], call.fixture)
    options = Options(cookie=cookie, move_cookie=boolean(call.params, "moveCookie") or False,
                      workspace=_workspace(call),
                      workspaces_enabled=call.config.workspaces_enabled,
                      require_key=call.config.strict)
    check_keys(record, cookie, options)
    lead, status = upsert(call.store, call.fixture, record, options)
    call.notes.append(f"lead {lead.id} {status}")
    return replies.result(
        replies.el("leadId", lead.id),
        replies.sync_status(lead.id, status),
        replies.lead_record(lead, call.fixture) if return_lead else replies.el("leadRecord", None),
    )


def _workspace(call: Call) -> Workspace | None:
    """The workspace the context header names (None without the header)."""
    name = call.target_workspace
    if name is None:
        return None
    if not call.config.workspaces_enabled:
        # Without workspaces the only workspace is Default, and the header is not needed.
        if name.strip().casefold() != DEFAULT_WORKSPACE.casefold():
            raise Fault(20110, f"Bad Parameter: workspaces are not enabled; targetWorkspace"
                               f" must be {DEFAULT_WORKSPACE}, not {name!r}")
        return None
    found = call.fixture.workspace(name)
    if found is None:
        raise Fault(20110, f"Bad Parameter: unknown workspace {name!r}")
    return found
