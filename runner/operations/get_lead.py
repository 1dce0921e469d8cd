"""getLead: read the leads matching one lead key (mktows-reference.md §3.6)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from runner.errors import RestError
from runner.operations import rest_shapes, shapes
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


# -- REST (marketo-rest-reference.md §3.2, §5.9: Get Leads by filter, every field) --------

def _rest_send(params: Params, api: RestApi) -> dict[str, Any]:
    key = params.get("leadKey") or {}
    key_type = str(key.get("keyType"))
    value = str(shapes.text(key.get("keyValue")))
    if key_type == "IDNUM":
        leads = rest_shapes.read_leads(api, "id", str(rest_shapes.lead_id(value, "IDNUM key")))
    elif key_type in rest_shapes.KEY_FILTERS:
        leads = rest_shapes.read_leads(api, rest_shapes.KEY_FILTERS[key_type], value)
    else:
        raise RestError(None, f"lead key type {key_type!r} cannot be looked up over REST")
    if not leads:
        # SOAP's fault 20103: no match is a failed call, never count 0 (REST: result []).
        raise RestError(1004, f"No lead found with {key_type} = {value}")
    records = [rest_shapes.soap_lead(lead, api) for lead in leads if isinstance(lead, dict)]
    return {"count": len(records), "leadRecordList": records, "leadId": records[0]["Id"]}


def _rest_unsupported(params: Params, settings: RestSettings) -> Iterator[Finding]:
    yield from rest_shapes.key_findings(params.get("leadKey"), ("leadKey",))


def _rest_notes(params: Params) -> list[str]:
    return ["over REST a lead's datetimes come back in UTC (Z), not US Central"]


REST = RestEncoding(send=_rest_send, calls=lambda params: 1, unsupported=_rest_unsupported,
                    once=lambda params: frozenset({rest_shapes.DESCRIBE}), notes=_rest_notes)

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
    rest=REST,
)
