"""Preflight: read before writing. Everything a plan's writes depend on that lives in Marketo
(the campaigns it requests or schedules, the workspaces it writes into, over REST the lead
fields it writes) is checked with read-only calls before the first write, and each problem is
reported like a validation problem (file:line:col, what exists instead; exit 2, nothing
written). Each kind of read is made once for the run, however many items name it.

What an API cannot tell is said, not guessed: SOAP lists only requestable (trigger)
campaigns, so a batch campaign's existence is left to its own call, and SOAP has no read for
workspaces. Values known only at run time (${steps...}) are checked by Marketo when sent.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from runner.errors import RestError
from runner.model import Location, Problem
from runner.operations import get_campaigns_for_source
from runner.operations.spec import Reference
from runner.senders import RestSender, Sender, SoapSender

SUGGESTIONS = 3
_NOT_FOUND_CODES = (1013, 603, 610)  # REST: no such campaign (or not visible to this user)


@dataclass
class Findings:
    problems: list[Problem] = field(default_factory=list)
    reads: int = 0
    established: list[str] = field(default_factory=list)

    def line(self) -> str:
        said = "; ".join(self.established) or "nothing to check"
        return f"preflight: {self.reads} read(s): {said}"


def check(plan: Any, sender: Sender) -> Findings:
    """Every reference of `plan` (a runner.prepare.Plan) checked through `sender`'s API."""
    found = Findings()
    refs: list[tuple[Reference, Location]] = list(plan.references)
    campaigns = [(r, w) for r, w in refs if r.kind in ("trigger", "batch")]
    workspaces = [(r, w) for r, w in refs if r.kind == "workspace"]
    if isinstance(sender, SoapSender):
        _soap_campaigns(sender, campaigns, found)
        if workspaces:
            found.established.append(f"{len(workspaces)} workspace(s) not checkable over SOAP")
    elif isinstance(sender, RestSender):
        _rest_campaigns(sender, campaigns, found)
        _rest_workspaces(sender, workspaces, found)
        _rest_fields(plan, sender, found)
    if plan.late_references:
        found.established.append(f"{plan.late_references} call(s) name values known only at "
                                 "run time: Marketo checks those when they are sent")
    return found


def _problem(where: Location, message: str, hint: str | None = None) -> Problem:
    return Problem(where, "", message, hint)


def _did_you_mean(name: str, names: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(names), n=SUGGESTIONS, cutoff=0.5)
    return f"did you mean {', '.join(repr(n) for n in close)}?" if close else None


# -- SOAP ------------------------------------------------------------------------------------

def _soap_campaigns(sender: SoapSender, refs: list[tuple[Reference, Location]],
                    found: Findings) -> None:
    if not refs:
        return
    # One read: every campaign requestable over the API (active trigger campaigns with the
    # Web Service API source). SOAP has no read for batch campaigns.
    outputs = sender.read(get_campaigns_for_source.OPERATION, {"source": "MKTOWS"})
    found.reads += 1
    listed = outputs.get("campaignRecordList") or []
    by_id = {c.get("id"): c for c in listed}
    names = [str(c.get("name")) for c in listed]
    for ref, where in refs:
        hit = (ref.campaign_id in by_id) if ref.campaign_id is not None else ref.name in names
        what = (f"campaign {ref.campaign_id}" if ref.campaign_id is not None
                else f"campaign {ref.name!r} (program {ref.program!r})")
        if ref.kind == "trigger" and not hit:
            found.problems.append(_problem(
                where, f"{what} cannot be requested: it is not among the requestable campaigns "
                "(it does not exist, is a batch campaign, is inactive, or its 'Campaign is "
                "Requested' trigger lacks the Web Service API source)",
                _did_you_mean(ref.name, names) if ref.name else None))
        elif ref.kind == "batch" and hit:
            found.problems.append(_problem(
                where, f"{what} is a trigger campaign; scheduleCampaign runs batch campaigns",
                "use requestCampaign for a trigger campaign, or name the batch campaign"))
    triggers = sum(1 for r, _ in refs if r.kind == "trigger")
    found.established.append(f"{triggers} requested campaign(s) checked against the "
                             f"{len(listed)} requestable; scheduled campaigns checked not to be "
                             "trigger campaigns (SOAP cannot list batch campaigns)")


# -- REST ------------------------------------------------------------------------------------

def _rest_campaigns(sender: RestSender, refs: list[tuple[Reference, Location]],
                    found: Findings) -> None:
    client = sender.session.client
    programs: dict[str, list[dict[str, Any]]] = {}
    for ref, where in refs:
        if ref.campaign_id is not None:
            found.reads += 1
            try:
                result = client.call("GET", f"/v1/campaigns/{ref.campaign_id}.json")
                records = result.get("result") or []
            except RestError as exc:
                if exc.code not in _NOT_FOUND_CODES:
                    raise
                records = []
            campaign = records[0] if records else None
            what = f"campaign {ref.campaign_id}"
            names: list[str] = []
        else:
            assert ref.program is not None and ref.name is not None
            if ref.program not in programs:
                found.reads += 1
                programs[ref.program] = [c for c in client.pages(
                    "/v1/campaigns.json", {"programName": ref.program})
                    if c.get("programName") == ref.program]
            mine = programs[ref.program]
            names = [str(c.get("name")) for c in mine]
            campaign = next((c for c in mine if c.get("name") == ref.name), None)
            what = f"campaign {ref.name!r} in program {ref.program!r}"
        problem = _kind_problem(ref, campaign, what, names)
        if problem is not None:
            message, hint = problem
            found.problems.append(_problem(where, message, hint))
    if refs:
        found.established.append(f"{len(refs)} campaign(s) exist and are of the right kind")


def _kind_problem(ref: Reference, campaign: dict[str, Any] | None, what: str,
                  names: list[str]) -> tuple[str, str | None] | None:
    if campaign is None:
        hint = (_did_you_mean(ref.name, names) if ref.name else None) or (
            f"the program's campaigns: {', '.join(repr(n) for n in names[:10])}" if names
            else "check the program and campaign names (or the id) in Marketo")
        return f"{what} not found", hint
    kind = campaign.get("type")
    if ref.kind == "trigger" and kind == "batch":
        return (f"{what} is a batch campaign; requestCampaign runs trigger campaigns",
                "use scheduleCampaign for a batch campaign")
    if ref.kind == "trigger" and campaign.get("active") is False:
        return (f"{what} is not active: Marketo would not run the leads through it",
                "activate it in Marketo (Schedule tab) first")
    if ref.kind == "batch" and kind == "trigger":
        return (f"{what} is a trigger campaign; scheduleCampaign runs batch campaigns",
                "use requestCampaign for a trigger campaign")
    return None


def _rest_workspaces(sender: RestSender, refs: list[tuple[Reference, Location]],
                     found: Findings) -> None:
    if not refs:
        return
    found.reads += 1  # the partitions are read once
    for ref, where in refs:
        assert ref.name is not None
        try:
            sender.session.partition(ref.name)
        except RestError as exc:
            found.problems.append(_problem(where, exc.message,
                                           "add the workspace to the target's partitions map"))
    found.established.append(f"{len(refs)} workspace(s) map to existing lead partitions")


def _rest_fields(plan: Any, sender: RestSender, found: Findings) -> None:
    fields: dict[str, Location] = plan.rest.fields if plan.rest is not None else {}
    if not fields:
        return
    found.reads += 1  # Describe Lead, once
    for name, where in fields.items():
        for message in sender.session.field_problems([name]):
            found.problems.append(_problem(
                where, message, "REST names come from Describe Lead (Admin > Field Management)"))
    found.established.append(f"{len(fields)} lead field(s) exist and are writable")
