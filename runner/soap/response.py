"""Reads mktows replies: Fault first, then the success element into typed outputs.

Parsing goes through defusedxml with DTDs forbidden, so a hostile reply can neither expand
entities nor reach external resources. Prefixes are ignored: Marketo writes SOAP-ENV/ns1,
other stacks write tns.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from runner.errors import ResponseError, SoapFaultError
from runner.model import HttpReply
from runner.soap.namespaces import SOAP_ENV, XSI

_NIL = f"{{{XSI}}}nil"
_LEADING_CODE = re.compile(r"^\s*(\d{5})\b")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: Element | None, name: str) -> Element | None:
    if elem is None:
        return None
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _children(elem: Element | None, name: str) -> list[Element]:
    return [] if elem is None else [c for c in elem if _local(c.tag) == name]


def _text(elem: Element | None) -> str | None:
    if elem is None or elem.get(_NIL) in ("true", "1"):
        return None
    return elem.text or ""


def _int(elem: Element | None) -> int | None:
    value = _text(elem)
    return int(value) if value not in (None, "") else None


def _bool(elem: Element | None) -> bool | None:
    value = _text(elem)
    return None if value is None else value.strip() in ("true", "1")


def parse_xml(body: bytes) -> Element:
    try:
        return fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException) as exc:
        raise ResponseError(f"the reply is not acceptable XML: {exc}") from None


def body_child(root: Element) -> Element:
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise ResponseError(f"the reply is not a SOAP 1.1 envelope (root {_local(root.tag)})")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if body is None or len(body) == 0:
        raise ResponseError("the reply has no SOAP Body content")
    return body[0]


def fault(elem: Element, http_status: int | None) -> SoapFaultError:
    """Marketo's code from detail/serviceException/code, else the faultstring's digits."""
    faultstring = _text(_child(elem, "faultstring")) or ""
    exc = _child(_child(elem, "detail"), "serviceException")
    code = _int(_child(exc, "code")) if exc is not None else None
    message = (_text(_child(exc, "message")) if exc is not None else None) or faultstring
    if code is None:
        m = _LEADING_CODE.match(faultstring)
        code = int(m.group(1)) if m else None
    return SoapFaultError(code, message.strip(), http_status)


def lead_record(elem: Element | None) -> dict[str, Any] | None:
    if elem is None or elem.get(_NIL) in ("true", "1"):
        return None
    attrs = {}
    for a in _children(_child(elem, "leadAttributeList"), "attribute"):
        name = _text(_child(a, "attrName"))
        if name:
            attrs[name] = _text(_child(a, "attrValue"))
    return {
        "Id": _int(_child(elem, "Id")),
        "Email": _text(_child(elem, "Email")),
        "ForeignSysPersonId": _text(_child(elem, "ForeignSysPersonId")),
        "ForeignSysType": _text(_child(elem, "ForeignSysType")),
        "leadAttributeList": attrs,
    }


def _sync_status(elem: Element) -> dict[str, Any]:
    return {
        "leadId": _int(_child(elem, "leadId")),
        "status": _text(_child(elem, "status")),
        "error": _text(_child(elem, "error")),
    }


def _outputs(operation: str, result: Element) -> dict[str, Any]:
    if operation == "syncLead":
        status = _child(result, "syncStatus")
        return {
            "leadId": _int(_child(result, "leadId")),
            "status": _text(_child(status, "status")),
            "error": _text(_child(status, "error")),
            "leadRecord": lead_record(_child(result, "leadRecord")),
        }
    if operation == "syncMultipleLeads":
        statuses = [_sync_status(s) for s in
                    _children(_child(result, "syncStatusList"), "syncStatus")]
        return {"syncStatusList": statuses, "leadIds": [s["leadId"] for s in statuses]}
    if operation in ("requestCampaign", "scheduleCampaign"):
        return {"success": _bool(_child(result, "success"))}
    if operation == "getLead":
        records = [lead_record(r) for r in
                   _children(_child(result, "leadRecordList"), "leadRecord")]
        return {
            "count": _int(_child(result, "count")),
            "leadRecordList": records,
            "leadId": records[0]["Id"] if records and records[0] else None,
        }
    if operation == "getCampaignsForSource":
        campaigns = [
            {"id": _int(_child(c, "id")), "name": _text(_child(c, "name")),
             "description": _text(_child(c, "description"))}
            for c in _children(_child(result, "campaignRecordList"), "campaignRecord")
        ]
        return {"returnCount": _int(_child(result, "returnCount")),
                "campaignRecordList": campaigns}
    raise ResponseError(f"no reader for operation {operation}")


def read(operation: str, output_element: str, reply: HttpReply) -> dict[str, Any]:
    """The operation's outputs, or SoapFaultError / ResponseError."""
    if not reply.body.strip():
        raise ResponseError(f"HTTP {reply.status} with an empty body")
    first = body_child(parse_xml(reply.body))
    if _local(first.tag) == "Fault":
        raise fault(first, reply.status)
    if _local(first.tag) != output_element:
        raise ResponseError(f"expected {output_element} in the reply, got {_local(first.tag)}")
    result = _child(first, "result")
    if result is None:
        raise ResponseError(f"{output_element} has no result")
    return _outputs(operation, result)
