"""scheduleCampaign: run a batch campaign now or at a time, optionally cloning its program
first (mktows-reference.md §3.5)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element

from runner.errors import RestError
from runner.operations import rest_shapes, shapes
from runner.operations.spec import (
    Finding,
    Operation,
    Output,
    Params,
    Reference,
    RestApi,
    RestEncoding,
    RestSettings,
    SoapEncoding,
)
from runner.soap import elements as el

_W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")


def _rules(params: Params) -> Iterator[Finding]:
    run_at = params.get("campaignRunAt")
    if isinstance(run_at, str) and not shapes.is_expression(run_at):
        valid = bool(_W3C.match(run_at))
        if valid:
            try:
                datetime.fromisoformat(run_at)
            except ValueError:
                valid = False
        if not valid:
            yield (("campaignRunAt",), f"{run_at!r} is not a date-time with a UTC offset",
                   "write e.g. 2026-12-01T09:00:00-06:00")
    yield from shapes.token_rules(params.get("programTokenList"), ("programTokenList",))


def _summary(params: Params) -> str:
    extra = f" clone→{params['cloneToProgramName']}" if params.get("cloneToProgramName") else ""
    extra += f" at {params['campaignRunAt']}" if params.get("campaignRunAt") else ""
    return shapes.campaign_label(params) + extra


def _read(result: Element) -> dict[str, Any]:
    return {"success": el.boolean(el.child(result, "success"))}


# -- REST (marketo-rest-reference.md §3.5, §5.7: lookup, then one schedule) ------------------

EARLIEST = timedelta(minutes=5)  # every API schedule waits at least this long
LATEST_YEARS = 2  # a runAt further out is 1042 "Invalid runAt date"


def _rest_send(params: Params, api: RestApi) -> dict[str, Any]:
    data: dict[str, Any] = {}
    run_at = params.get("campaignRunAt")
    if run_at:
        when, now = _instant(str(run_at)), api.now()
        if when > _years_later(now, LATEST_YEARS):
            raise RestError(1042, f"campaignRunAt {run_at} is more than {LATEST_YEARS} years "
                                  "ahead: Marketo refuses it (1042), so it was not sent")
        # Sooner than 5 minutes (or past, SOAP's "now"): leave runAt out, and Marketo runs
        # it 5 minutes after the call, the earliest an API schedule can run.
        if when >= now + EARLIEST:
            data["runAt"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
    with rest_shapes.before_write():  # however the lookup fails, nothing was scheduled
        campaign = api.campaign_id(str(params.get("programName")),
                                   str(params.get("campaignName")), triggerable=False)
    if params.get("cloneToProgramName"):
        data["cloneToProgramName"] = str(params["cloneToProgramName"])
    tokens = rest_shapes.tokens(params.get("programTokenList"))
    if tokens:
        data["tokens"] = tokens
    if "cloneToProgramName" in data:
        api.take_clone()  # counted before sending: Marketo allows 20 a day (1020)
    # No body when nothing is set, as Marketo's own clients send it.
    api.post(f"/v1/campaigns/{campaign}/schedule.json", {"input": data} if data else None,
             schema="schedule-campaign")
    return {"success": True}


def _instant(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RestError(None, f"campaignRunAt {text[:40]!r} is not a date-time") from None
    if when.tzinfo is None:
        raise RestError(None, f"campaignRunAt {text[:40]!r} has no UTC offset")
    return when


def _years_later(when: datetime, years: int) -> datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)


def _rest_unsupported(params: Params, settings: RestSettings) -> Iterator[Finding]:
    run_at = params.get("campaignRunAt")
    if isinstance(run_at, str) and not shapes.is_expression(run_at) and _W3C.match(run_at):
        try:
            late = _instant(run_at) > _years_later(datetime.now(UTC), LATEST_YEARS)
        except RestError:
            return  # _rules reports it
        if late:
            yield (("campaignRunAt",), f"{run_at} is more than {LATEST_YEARS} years ahead: "
                   "Marketo's REST API refuses it (1042)",
                   f"schedule within {LATEST_YEARS} years")


def _rest_notes(params: Params) -> list[str]:
    notes = ["over REST a scheduled run starts 5 minutes after the call at the earliest "
             "(campaignRunAt sooner, or absent, means then)"]
    if params.get("cloneToProgramName"):
        notes.append("cloneToProgramName: Marketo allows 20 such schedules a day")
    return notes


REST = RestEncoding(send=_rest_send, calls=lambda params: 1, unsupported=_rest_unsupported,
                    once=rest_shapes.campaign_lookup, notes=_rest_notes)

def _references(params: Params) -> Iterator[Reference]:
    return shapes.campaign_reference("batch", params)


OPERATION = Operation(
    name="scheduleCampaign",
    doc="schedule a batch campaign (sends what the campaign sends)",
    outputs={"success": Output("bool", "true when Marketo scheduled the run", True)},
    summary=_summary,
    soap=SoapEncoding(encode=shapes.with_tokens, read=_read),
    idempotent=False,
    rules=_rules,
    references=_references,
    rest=REST,
)
