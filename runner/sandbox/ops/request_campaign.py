"""requestCampaign: run leads through a trigger campaign (mktows-reference.md §3.4).

Nothing is sent to anyone: the sandbox records a campaign run (kind "request") with the
leads it resolved, so tests and users can see what a real instance would have done.
"""

from __future__ import annotations

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.fixture import Campaign
from runner.sandbox.ops.base import Call
from runner.sandbox.ops.get_lead import find_leads
from runner.sandbox.params import child, integer, lead_keys, required, text, tokens
from runner.sandbox.store import CampaignRun

MAX_LEAD_KEYS = 100  # Marketo silently ignores the keys past this


def request_campaign(call: Call) -> str:
    source = (required(call.params, "source").text or "").strip()
    campaign = _campaign(call)
    if not campaign.requestable_from(source):
        raise Fault(20113, f"Campaign {campaign.id} ({campaign.name}) cannot be requested"
                           f" from {source}")
    keys = lead_keys(call.params)
    used = keys[:MAX_LEAD_KEYS]
    with call.store.transaction():
        found = (lead.id for kind, value in used for lead in find_leads(call.store, kind, value))
        lead_ids = tuple(dict.fromkeys(found))  # each lead once, in key order
        call.store.add_run(CampaignRun(
            kind="request", campaign_id=campaign.id, program_name=campaign.program,
            campaign_name=campaign.name, source=source, lead_ids=lead_ids,
            tokens=tokens(call.params), ignored_keys=len(keys) - len(used),
        ))
    return replies.result(replies.el("success", True))


def _campaign(call: Call) -> Campaign:
    """The campaign named by exactly one of the two valid parameter sets."""
    campaign_id = integer(call.params, "campaignId")
    program = text(call.params, "programName") or None
    name = text(call.params, "campaignName") or None
    if campaign_id is not None:
        if program or name or child(call.params, "programTokenList") is not None:
            raise Fault(20110, "campaignId must be used alone, without programName,"
                               " campaignName or programTokenList")
        by_id = call.fixture.campaign(campaign_id)
        if by_id is None:
            raise Fault(20113, f"Campaign not found: id {campaign_id}")
        return by_id
    if not (program and name):
        raise Fault(20110, "give campaignId alone, or programName with campaignName")
    by_name = call.fixture.campaign_named(program, name)
    if by_name is None:
        raise Fault(20113, f"Campaign not found: {name} in program {program}")
    return by_name
