"""The asset API's smart campaigns (marketo-rest-reference.md §3.6, §9.7): by name, by id,
and browsed with offset/maxReturn. Nothing found is `success: true` with the warning
"No assets found for the given search criteria." and no `result`, as captured."""

from __future__ import annotations

import json
from typing import Any

from runner.sandbox.fixture import Campaign, Program
from runner.sandbox.rest.call import RestCall, required
from runner.sandbox.rest.campaigns import WEB_SERVICE_API
from runner.sandbox.rest.envelope import NO_ASSETS, Answer, RestError
from runner.sandbox.rest.request import one

MAX_RETURN = 200


def by_name(call: RestCall) -> Answer:
    """Exact name; when programs share the name, the campaign with the lowest id wins
    (reference §10 q7: undocumented)."""
    name = required(call.params(), "name")
    found = next(((c, p) for c, p in _all(call) if c.name == name), None)
    return _answer(call, [found] if found else [])


def by_id(call: RestCall) -> Answer:
    wanted = call.path_id()
    return _answer(call, [(c, p) for c, p in _all(call) if c.id == wanted])


def browse(call: RestCall) -> Answer:
    params = call.params()
    offset, size = _number(one(params, "offset"), 0), _number(one(params, "maxReturn"), 20)
    if not 1 <= size <= MAX_RETURN:
        raise RestError(1003, f"Invalid data: maxReturn must be 1 to {MAX_RETURN}")
    active = (one(params, "isActive") or "").lower()
    folder = _folder(one(params, "folder"))
    found = [(c, p) for c, p in _all(call)
             if (folder is None or p.id == folder)
             and (active not in ("true", "false") or _active(c) == (active == "true"))]
    return _answer(call, found[offset:offset + size])


def _all(call: RestCall) -> list[tuple[Campaign, Program]]:
    out = []
    for campaign in call.catalog.campaigns():
        program = call.catalog.program(campaign.program)
        if program is not None:
            out.append((campaign, program))
    return out


def _answer(call: RestCall, found: list[tuple[Campaign, Program]]) -> Answer:
    if not found:
        return Answer(None, warnings=[NO_ASSETS])
    return Answer([_record(call, c, p) for c, p in found])


def _active(campaign: Campaign) -> bool:
    return campaign.type == "trigger" and campaign.active


def _record(call: RestCall, campaign: Campaign, program: Program) -> dict[str, Any]:
    """A `SmartCampaignResponse`: asset dates carry the API's "Z+0000" (sic, §1.6)."""
    stamp = call.store.program_created(program.name)
    stamp = f"{stamp}+0000" if stamp else None
    if campaign.type == "trigger":
        status = "Active" if campaign.active else "Inactive"
    else:
        status = "Single Run" if call.store.schedule_runs(campaign.id) else "Never Run"
    return {
        "id": campaign.id, "name": campaign.name, "description": campaign.description,
        "createdAt": stamp, "updatedAt": stamp, "folder": {"id": program.id, "type": "Program"},
        "status": status, "type": campaign.type, "isSystem": False,
        "isActive": _active(campaign),
        "isRequestable": campaign.requestable_from(WEB_SERVICE_API),
        "workspace": program.workspace, "parentProgramId": program.id,
    }


def _number(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise RestError(1003, f"Invalid data: '{value}' is not a whole number")
    return int(value)


def _folder(value: str | None) -> int | None:
    """`folder={"id": n, "type": "Program"}`: the campaigns of that program."""
    if not value:
        return None
    try:
        folder = json.loads(value)
        return int(folder["id"])
    except (ValueError, KeyError, TypeError):
        raise RestError(1003, f"Invalid data: folder '{value}'") from None
