"""getCampaignsForSource: list the campaigns a source may request (mktows-reference.md §3.7)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from runner.errors import RestError
from runner.operations import rest_shapes
from runner.operations.spec import (
    Finding,
    Operation,
    Output,
    Params,
    RestApi,
    RestEncoding,
    RestSettings,
    SoapEncoding,
)
from runner.soap import elements as el


def _summary(params: Params) -> str:
    return f"source={params.get('source', 'MKTOWS')}" + (
        f" name={params['name']}" if "name" in params else "")


def _read(result: Element) -> dict[str, Any]:
    campaigns = [
        {"id": el.integer(el.child(c, "id")), "name": el.text(el.child(c, "name")),
         "description": el.text(el.child(c, "description"))}
        for c in el.children(el.child(result, "campaignRecordList"), "campaignRecord")
    ]
    return {"returnCount": el.integer(el.child(result, "returnCount")),
            "campaignRecordList": campaigns}


# -- REST (marketo-rest-reference.md §3.6, §8: triggerable campaigns, paged to the end) -----

def _rest_send(params: Params, api: RestApi) -> dict[str, Any]:
    if params.get("source", "MKTOWS") != "MKTOWS":
        raise RestError(None, f"source {params.get('source')!r} has no REST equivalent")
    name = params.get("name")
    exact = rest_shapes.is_true(params.get("exactName"))
    query = {"isTriggerable": "true"}  # active, with the Web Service API trigger
    if name and exact and "," not in str(name):
        query["name"] = str(name)
    found = list(api.records("/v1/campaigns.json", query))
    if name:
        # REST's `name` is exact (its case rules unverified, §10 q7); SOAP's substring
        # match was case-insensitive: both are applied here, as SOAP did.
        wanted = str(name)
        found = [c for c in found if (c.get("name") == wanted if exact else
                                      wanted.casefold() in str(c.get("name", "")).casefold())]
    found.sort(key=_id)
    # REST leaves out an empty description; SOAP wrote it empty.
    campaigns = [{"id": c.get("id"), "name": c.get("name"),
                  "description": c.get("description") or ""} for c in found]
    return {"returnCount": len(campaigns), "campaignRecordList": campaigns}


def _id(campaign: dict[str, Any]) -> int:
    value = campaign.get("id")
    return value if isinstance(value, int) else 0


def _rest_unsupported(params: Params, settings: RestSettings) -> Iterator[Finding]:
    yield from rest_shapes.source_findings(params)


def _rest_notes(params: Params) -> list[str]:
    if params.get("name") and rest_shapes.is_true(params.get("exactName")):
        return []
    return ["without exactName, every triggerable campaign is listed (one REST call per 300) "
            "and filtered here"]


REST = RestEncoding(send=_rest_send, calls=lambda params: 1, unsupported=_rest_unsupported,
                    notes=_rest_notes)

OPERATION = Operation(
    name="getCampaignsForSource",
    doc="list the campaigns a source may request",
    outputs={
        "returnCount": Output("int", "how many campaigns", 0),
        "campaignRecordList": Output("list", "{id, name, description} per campaign", [],
                                     {"id": 1, "name": "campaign", "description": ""}),
    },
    summary=_summary,
    soap=SoapEncoding(encode=dict, read=_read),
    defaults={"source": "MKTOWS"},
    writes=False,
    rest=REST,
)
