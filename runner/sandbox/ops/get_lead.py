"""getLead: look leads up by one key (mktows-reference.md §3.6).

IDNUM, EMAIL (every lead with that email) and COOKIE are looked up; the SFDC and owner
key types find nothing in the sandbox. No match is fault 20103, never count 0.
"""

from __future__ import annotations

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.ops.base import Call
from runner.sandbox.params import required, text
from runner.sandbox.store import Lead, Store


def get_lead(call: Call) -> str:
    key = required(call.params, "leadKey")
    key_type = (text(key, "keyType") or "").strip()
    key_value = text(key, "keyValue") or ""
    leads = find_leads(call.store, key_type, key_value)
    if not leads:
        raise Fault(20103, f"No lead found with {key_type} = {key_value}")
    return replies.result(
        replies.el("count", len(leads)),
        replies.wrap("leadRecordList", *(replies.lead_record(x, call.fixture) for x in leads)),
    )


def find_leads(store: Store, key_type: str, key_value: str) -> list[Lead]:
    """The leads one LeadKey names; shared with requestCampaign."""
    if key_type == "IDNUM":
        lead = store.get(int(key_value)) if key_value.strip().isdigit() else None
        return [lead] if lead else []
    if key_type == "EMAIL":
        return store.by_email(key_value) if key_value else []
    if key_type == "COOKIE":
        lead = store.by_cookie(key_value)
        return [lead] if lead else []
    return []
