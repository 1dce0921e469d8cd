"""getLead: look leads up by one key (mktows-reference.md §3.6; key types in keys.py).

No match is fault 20103 with Marketo's message, never count 0.
"""

from __future__ import annotations

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.ops.base import Call
from runner.sandbox.ops.keys import find_leads
from runner.sandbox.params import required, text


def get_lead(call: Call) -> str:
    key = required(call.params, "leadKey")
    key_type = (text(key, "keyType") or "").strip()
    key_value = text(key, "keyValue") or ""
    leads = find_leads(call.store, call.fixture, key_type, key_value)
    if not leads:
        raise Fault(20103, f"No lead found with {key_type} = {key_value}")
    call.notes.append(f"{len(leads)} lead(s)")
    return replies.result(
        replies.el("count", len(leads)),
        replies.wrap("leadRecordList", *(replies.lead_record(x, call.fixture) for x in leads)),
    )
