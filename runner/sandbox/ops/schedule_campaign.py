"""scheduleCampaign: run a batch campaign now or later (mktows-reference.md §3.5).

Recorded as a campaign run (kind "schedule") with the run time as sent (NULL: now), the
tokens that override the program's My Tokens for this run, and cloneToProgramName.
"""

from __future__ import annotations

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.ops.base import Call
from runner.sandbox.params import required, text, tokens
from runner.sandbox.store import CampaignRun


def schedule_campaign(call: Call) -> str:
    program = required(call.params, "programName").text or ""
    name = required(call.params, "campaignName").text or ""
    campaign = call.fixture.campaign_named(program, name)
    if campaign is None:
        raise Fault(20113, f"Campaign not found: {name} in program {program}")
    if campaign.type != "batch":
        raise Fault(20113, f"Campaign {campaign.id} ({name}) is not a batch campaign")
    with call.store.transaction():
        call.store.add_run(CampaignRun(
            kind="schedule", campaign_id=campaign.id, program_name=program, campaign_name=name,
            tokens=tokens(call.params),
            run_at=(text(call.params, "campaignRunAt") or "").strip() or None,
            clone_to_program_name=text(call.params, "cloneToProgramName") or None,
        ))
    return replies.result(replies.el("success", True))
