"""scheduleCampaign: run a batch campaign now or later (mktows-reference.md §3.5).

Recorded as a campaign run (kind "schedule") with campaignRunAt as sent (NULL: now), the
tokens as sent and as applied (they override the program's My Tokens for this run only).
With cloneToProgramName the campaign's program is copied under that name (a name already
taken is fault 20110) and the copy's campaign is the one scheduled; at most
`clone_limit_per_day` such calls succeed per day (reset 12:00 AM US Central), then fault
20114 (Marketo's SOAP code for it is undocumented; REST says 1020 "Too many clones").
"""

from __future__ import annotations

from datetime import UTC, datetime

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.fixture import Campaign, Program
from runner.sandbox.limits import day_start
from runner.sandbox.ops import tokens as program_tokens
from runner.sandbox.ops.base import Call
from runner.sandbox.params import required, text, tokens
from runner.sandbox.store import CampaignRun


def schedule_campaign(call: Call) -> str:
    program_name = required(call.params, "programName").text or ""
    name = required(call.params, "campaignName").text or ""
    program = call.catalog.program(program_name)
    campaign = call.catalog.campaign_named(program_name, name)
    if program is None or campaign is None:
        raise Fault(20113, f"Campaign Not Found: no campaign {name!r} in program"
                           f" {program_name!r}")
    if campaign.type != "batch":
        raise Fault(20113, f"Campaign Not Found: campaign {campaign.id} ({name}) is not a"
                           " batch campaign; request a trigger campaign with requestCampaign")
    run_at = _run_at(text(call.params, "campaignRunAt"))
    sent = program_tokens.checked(tokens(call.params))
    clone_name = (text(call.params, "cloneToProgramName") or "").strip() or None
    if clone_name is not None:
        program, campaign = _clone(call, program, campaign, clone_name)
    run_id = call.store.add_run(CampaignRun(
        kind="schedule", campaign_id=campaign.id, program_name=program.name,
        campaign_name=campaign.name, tokens=sent,
        effective_tokens=program_tokens.effective(program.tokens, sent), run_at=run_at,
        clone_to_program_name=clone_name,
    ))
    call.notes.append(f"run {run_id}: campaign {campaign.id}"
                      + (f" of clone {clone_name!r}" if clone_name else ""))
    return replies.result(replies.el("success", True))


def _run_at(value: str | None) -> str | None:
    """campaignRunAt as sent; lenient mode gets here unchecked, so check it is a date-time."""
    if value is None or not value.strip():
        return None
    try:
        datetime.fromisoformat(value.strip())
    except ValueError:
        raise Fault(20110, f"Bad Parameter: campaignRunAt {value!r} is not a date-time"
                    ) from None
    return value.strip()


def _clone(call: Call, program: Program, campaign: Campaign, name: str
           ) -> tuple[Program, Campaign]:
    limit = call.config.clone_limit_per_day
    if limit is not None:
        since = day_start(call.now).astimezone(UTC).isoformat(timespec="milliseconds")
        if call.store.clones_since(since) >= limit:
            raise Fault(20114, f"Bad Parameter: too many clones to program: at most {limit}"
                               " scheduleCampaign calls with cloneToProgramName a day")
    if call.catalog.program(name) is not None:
        raise Fault(20110, f"Bad Parameter: a program named {name!r} already exists")
    copy = call.catalog.clone(program, name, call.store.now_iso())
    scheduled = next(c for c in copy.campaigns if c.name == campaign.name)
    return copy, scheduled
