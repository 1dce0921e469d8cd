"""getCampaignsForSource: list the campaigns a source may request (mktows-reference.md §3.7)."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from runner.operations.spec import Operation, Output, Params, SoapEncoding
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
)
