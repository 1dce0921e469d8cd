"""Campaigns over REST (marketo-rest-reference.md §3.4-§3.6, §9.7): Get Campaigns (by id,
name, program, workspace, triggerable), Get Campaign by id, Request (trigger) and Schedule.

Trigger and schedule record a campaign run in the same table SOAP's requestCampaign and
scheduleCampaign write, so `mktows-run sandbox runs` shows both APIs' runs alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from runner.sandbox.faults import Fault
from runner.sandbox.fixture import Campaign, Program
from runner.sandbox.limits import day_start
from runner.sandbox.ops import tokens as program_tokens
from runner.sandbox.rest import paging
from runner.sandbox.rest.call import RestCall, member
from runner.sandbox.rest.envelope import Answer, RestError
from runner.sandbox.rest.request import listed, one
from runner.sandbox.store import CampaignRun

MAX_LEADS = 100
MAX_TOKENS = 100
WEB_SERVICE_API = "MKTOWS"  # the "Campaign is Requested" source REST triggers from
SCHEDULE_DELAY = timedelta(minutes=5)  # API schedules run at least 5 minutes out (§3.5)


def get_campaigns(call: RestCall) -> Answer:
    params = call.params()
    ids = {int(v) for v in listed(params, "id") or [] if v.isdigit()}
    wanted = {k: set(v) for k in ("name", "programName", "workspaceName")
              if (v := listed(params, k)) is not None}
    triggerable = (one(params, "isTriggerable") or "").lower() == "true"
    found = []
    for campaign in call.catalog.campaigns():
        program = call.catalog.program(campaign.program)
        if program is None or ("id" in params and campaign.id not in ids):
            continue
        # Names match exactly, case included (reference §10 q7 leaves it open).
        if any(value not in wanted.get(k, {value}) for k, value in (
                ("name", campaign.name), ("programName", program.name),
                ("workspaceName", program.workspace))):
            continue
        if triggerable and not campaign.requestable_from(WEB_SERVICE_API):
            continue
        found.append((campaign, program))
    size = paging.batch_size(one(params, "batchSize"))
    query = ("campaigns", tuple(sorted(ids)), tuple(sorted((k, tuple(sorted(v)))
                                                           for k, v in wanted.items())),
             triggerable)
    chunk, extra = paging.page(found, one(params, "nextPageToken"), size, query)
    return Answer([record(call, c, p) for c, p in chunk], extra)


def get_campaign(call: RestCall) -> Answer:
    campaign, program = _campaign(call)
    return Answer([record(call, campaign, program)])


def record(call: RestCall, campaign: Campaign, program: Program) -> dict[str, Any]:
    """A `Campaign` as the lead-database API writes it (the [AMP] capture's members)."""
    stamp = call.store.program_created(program.name)
    out: dict[str, Any] = {"id": campaign.id, "name": campaign.name}
    if campaign.description:
        out["description"] = campaign.description
    out.update(type=campaign.type, programName=program.name, programId=program.id,
               workspaceName=program.workspace, createdAt=stamp, updatedAt=stamp,
               active=campaign.type == "trigger" and campaign.active)
    return out


def trigger(call: RestCall) -> Answer:
    campaign, program = _campaign(call)
    if campaign.type != "trigger":
        raise RestError(1003, f"Invalid data: campaign {campaign.id} is a batch campaign;"
                              " schedule it instead")
    if not campaign.requestable_from(WEB_SERVICE_API):
        # Reference §10 q5: the code for an inactive campaign, or one without the Web
        # Service API trigger, is undocumented; 1003 for the whole call.
        why = "is not active" if not campaign.active else "has no Campaign is Requested" \
              " trigger with the Web Service API source"
        raise RestError(1003, f"Invalid data: campaign {campaign.id} {why}")
    data = _input(call, required=True)
    leads = member(data, "leads")
    if not isinstance(leads, list):
        raise RestError(1003, "Invalid data: leads must be a list of {\"id\": n}")
    if len(leads) > MAX_LEADS:
        raise RestError(1003, f"Invalid data: more than {MAX_LEADS} leads")
    sent = _tokens(data, program)
    lead_ids: dict[int, None] = {}
    for item in leads:
        value = item.get("id") if isinstance(item, dict) else None
        if not isinstance(value, int) or isinstance(value, bool):
            if not (isinstance(value, str) and value.isdigit()):
                raise RestError(1001, f"Invalid value '{value}'. Required of type 'integer'")
            value = int(value)
        if not call.store.has_lead(value):
            # One unknown id fails the whole call ([MRKT]'s stub; reference §10 q6).
            raise RestError(1004, f"Lead [{value}] not found")
        lead_ids[value] = None
    run_id = call.store.add_run(CampaignRun(
        kind="request", campaign_id=campaign.id, program_name=program.name,
        campaign_name=campaign.name, source=WEB_SERVICE_API, lead_ids=tuple(lead_ids),
        tokens=sent, effective_tokens=program_tokens.effective(program.tokens, sent)))
    call.notes.append(f"run {run_id}: campaign {campaign.id}, {len(lead_ids)} lead(s)")
    return Answer([{"id": campaign.id}])


def schedule(call: RestCall) -> Answer:
    campaign, program = _campaign(call)
    if campaign.type != "batch":
        raise RestError(1003, f"Invalid data: campaign {campaign.id} is a trigger campaign;"
                              " request it with trigger.json")  # reference §10 q5
    data = _input(call, required=False)
    run_at = _run_at(call, data.get("runAt"))
    sent = _tokens(data, program)
    clone_name = data.get("cloneToProgramName")
    scheduled, target = campaign, program
    if clone_name is not None:
        target, scheduled = _clone(call, program, campaign, str(clone_name))
    run_id = call.store.add_run(CampaignRun(
        kind="schedule", campaign_id=scheduled.id, program_name=target.name,
        campaign_name=scheduled.name, tokens=sent,
        effective_tokens=program_tokens.effective(target.tokens, sent), run_at=run_at,
        clone_to_program_name=target.name if clone_name is not None else None))
    call.notes.append(f"run {run_id}: campaign {scheduled.id} at {run_at}")
    return Answer([{"id": campaign.id}])


def _campaign(call: RestCall) -> tuple[Campaign, Program]:
    campaign = call.catalog.campaign(call.path_id())
    program = call.catalog.program(campaign.program) if campaign else None
    if campaign is None or program is None:
        raise RestError(1013, "Campaign not found")  # [MRKT]'s stub text
    return campaign, program


def _input(call: RestCall, *, required: bool) -> dict[str, Any]:
    data = call.body()
    if data is None or data.get("input") is None:
        if required:
            raise RestError(1002, "Missing value for the required parameter 'input'")
        return {}
    if not isinstance(data["input"], dict):
        raise RestError(1003, "Invalid data: input must be a JSON object")
    return dict(data["input"])


def _tokens(data: dict[str, Any], program: Program) -> dict[str, str]:
    """`tokens`: at most 100, each `{{my.name}}` and one of the program's My Tokens."""
    tokens = data.get("tokens") or []
    if not isinstance(tokens, list) or len(tokens) > MAX_TOKENS:
        raise RestError(1003, f"Invalid data: tokens must be a list of at most {MAX_TOKENS}")
    sent: dict[str, str] = {}
    for token in tokens:
        name = token.get("name") if isinstance(token, dict) else None
        value = token.get("value") if isinstance(token, dict) else None
        if not isinstance(name, str) or value is None or isinstance(value, list | dict):
            raise RestError(1003, "Invalid data: a token is {\"name\": \"{{my.x}}\","
                                  " \"value\": ...}")
        try:
            program_tokens.checked({name: ""})
        except Fault:  # SOAP's 20110 for the same rule
            raise RestError(1003, f"Invalid data: token name '{name}' must be written"
                                  " {{my.name}}") from None
        if name not in program.tokens:
            raise RestError(1003, f"Invalid data: token '{name}' is not a My Token of"
                                  f" program '{program.name}'")
        sent[name] = value if isinstance(value, str) else str(value)
    return sent


def _run_at(call: RestCall, value: Any) -> str:
    """The time the run starts, UTC. None: now + 5 minutes; earlier than that: clamped to it
    (reference §10 q8); more than 2 years out: 1042; no offset or unreadable: 704."""
    earliest = call.now + SCHEDULE_DELAY
    when = earliest
    if value is not None:
        try:
            when = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise RestError(704, f"Invalid date format: runAt '{value}'") from None
        if when.tzinfo is None:
            raise RestError(704, f"Invalid date format: runAt '{value}' has no UTC offset")
        if when > _years_later(call.now, 2):
            raise RestError(1042)
        when = max(when, earliest)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clone(call: RestCall, program: Program, campaign: Campaign, name: str
           ) -> tuple[Program, Campaign]:
    limit = call.config.rest.clone_limit_per_day
    if limit is not None:
        since = day_start(call.now).astimezone(UTC).isoformat(timespec="milliseconds")
        if call.store.clones_since(since) >= limit:
            raise RestError(1020)
    if not name.strip() or call.catalog.program(name) is not None:
        # Reference §9.7: the code for a taken name is a choice (709).
        raise RestError(709, f"Business Rule Violation: a program named '{name}' exists")
    copy = call.catalog.clone(program, name, call.store.now_iso())
    return copy, next(c for c in copy.campaigns if c.name == campaign.name)


def _years_later(when: datetime, years: int) -> datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)
