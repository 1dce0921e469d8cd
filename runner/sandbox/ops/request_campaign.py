"""requestCampaign: run leads through a trigger campaign (mktows-reference.md §3.4).

Nothing is sent to anyone: the sandbox records a campaign run (kind "request") with the
leads it resolved, the tokens as sent and as applied, and the time. Marketo's truncation
is reproduced: keys past the 100th are ignored without an error, and the run records
which keys it ignored, so a test can prove a client never relies on it. Keys that match
no lead are skipped and recorded too.
"""

from __future__ import annotations

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.fixture import SOURCES, Campaign
from runner.sandbox.ops import tokens as program_tokens
from runner.sandbox.ops.base import Call
from runner.sandbox.ops.keys import find_lead_ids
from runner.sandbox.params import child, integer, lead_keys, required, text, tokens
from runner.sandbox.store import CampaignRun

MAX_LEAD_KEYS = 100  # Marketo silently ignores the keys past this


def request_campaign(call: Call) -> str:
    source = (required(call.params, "source").text or "").strip()
    if source not in SOURCES:  # lenient mode only; strict mode's schema check comes first
        raise Fault(20110, f"Bad Parameter: source must be MKTOWS or SALES, not {source!r}")
    campaign = _campaign(call)
    if not campaign.requestable_from(source):
        why = ("is a batch campaign" if campaign.type == "batch" else "is not active"
               if not campaign.active else f"has no Campaign is Requested trigger for {source}")
        raise Fault(20113, f"Campaign Not Found: campaign {campaign.id} ({campaign.name})"
                           f" {why}")
    keys = lead_keys(call.params)
    if not keys:
        raise Fault(20101, "Lead Key Required: leadList has no leadKey")
    sent = program_tokens.checked(tokens(call.params))
    used, ignored = keys[:MAX_LEAD_KEYS], keys[MAX_LEAD_KEYS:]
    lead_ids: dict[int, None] = {}  # each lead once, in key order
    unresolved = []
    for key_type, value in used:
        found = find_lead_ids(call.store, call.fixture, key_type, value)
        lead_ids.update(dict.fromkeys(found))
        if not found:
            unresolved.append((key_type, value))
    program = call.catalog.program(campaign.program)
    run_id = call.store.add_run(CampaignRun(
        kind="request", campaign_id=campaign.id, program_name=campaign.program,
        campaign_name=campaign.name, source=source, lead_ids=tuple(lead_ids), tokens=sent,
        effective_tokens=program_tokens.effective(program.tokens if program else {}, sent),
        ignored_keys=tuple(ignored), unresolved_keys=tuple(unresolved),
    ))
    call.notes.append(f"run {run_id}: campaign {campaign.id}, {len(lead_ids)} lead(s)"
                      + (f", {len(ignored)} key(s) past 100 ignored" if ignored else ""))
    return replies.result(replies.el("success", True))


def _campaign(call: Call) -> Campaign:
    """The campaign named by exactly one of the two valid parameter sets."""
    campaign_id = integer(call.params, "campaignId")
    program = text(call.params, "programName") or None
    name = text(call.params, "campaignName") or None
    if campaign_id is not None:
        if program or name or child(call.params, "programTokenList") is not None:
            raise Fault(20110, "Bad Parameter: campaignId must be used alone, without"
                               " programName, campaignName or programTokenList")
        by_id = call.catalog.campaign(campaign_id)
        if by_id is None:
            raise Fault(20113, f"Campaign Not Found: no campaign with id {campaign_id}")
        return by_id
    if not (program and name):
        raise Fault(20110, "Bad Parameter: give campaignId alone, or programName with"
                           " campaignName")
    by_name = call.catalog.campaign_named(program, name)
    if by_name is None:
        raise Fault(20113, f"Campaign Not Found: no campaign {name!r} in program {program!r}")
    return by_name
