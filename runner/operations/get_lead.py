"""getLead: read the leads matching one lead key (mktows-reference.md §3.6)."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from runner.operations import shapes
from runner.operations.spec import Operation, Output, Params, SoapEncoding
from runner.soap import elements as el


def _summary(params: Params) -> str:
    key = params.get("leadKey") or {}
    return f"{key.get('keyType')}={key.get('keyValue')}"


def _encode(params: Params) -> Params:
    if isinstance(params.get("leadKey"), dict):
        return {**params, "leadKey": shapes.lead_key(params["leadKey"])}
    return params


def _read(result: Element) -> dict[str, Any]:
    records = [el.lead_record(r) for r in
               el.children(el.child(result, "leadRecordList"), "leadRecord")]
    return {
        "count": el.integer(el.child(result, "count")),
        "leadRecordList": records,
        "leadId": records[0]["Id"] if records and records[0] else None,
    }


OPERATION = Operation(
    name="getLead",
    doc="read the leads matching a lead key",
    outputs={
        "count": Output("int", "how many leads matched", 1),
        "leadRecordList": Output("list", "the matching leads", [], shapes.SAMPLE_LEAD),
        "leadId": Output("int", "the first matching lead's id", 1),
    },
    summary=_summary,
    soap=SoapEncoding(encode=_encode, read=_read),
    writes=False,
)
