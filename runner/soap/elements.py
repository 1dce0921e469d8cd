"""Reading values out of parsed mktows XML: children by local name (prefixes vary between
stacks), xsi:nil, typed leaves, and the record shapes several operations share. Stdlib only."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from runner.soap.namespaces import XSI

_NIL = f"{{{XSI}}}nil"


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def child(elem: Element | None, name: str) -> Element | None:
    if elem is None:
        return None
    qualified = "}" + name  # `{ns}name` (a local name holds no `}`), or `name` unqualified
    for c in elem:
        tag = c.tag
        if tag == name or tag.endswith(qualified):
            return c
    return None


def children(elem: Element | None, name: str) -> list[Element]:
    if elem is None:
        return []
    qualified = "}" + name  # (as in child: no string built per element)
    return [c for c in elem if c.tag == name or c.tag.endswith(qualified)]


def is_nil(elem: Element | None) -> bool:
    return elem is not None and elem.get(_NIL) in ("true", "1")


def text(elem: Element | None) -> str | None:
    if elem is None or is_nil(elem):
        return None
    return elem.text or ""


def integer(elem: Element | None) -> int | None:
    value = text(elem)
    return int(value) if value not in (None, "") else None


def boolean(elem: Element | None) -> bool | None:
    value = text(elem)
    return None if value is None else value.strip() in ("true", "1")


def lead_record(elem: Element | None) -> dict[str, Any] | None:
    if elem is None or is_nil(elem):
        return None
    attrs = {}
    for a in children(child(elem, "leadAttributeList"), "attribute"):
        name = text(child(a, "attrName"))
        if name:
            attrs[name] = text(child(a, "attrValue"))
    return {
        "Id": integer(child(elem, "Id")),
        "Email": text(child(elem, "Email")),
        "ForeignSysPersonId": text(child(elem, "ForeignSysPersonId")),
        "ForeignSysType": text(child(elem, "ForeignSysType")),
        "leadAttributeList": attrs,
    }


def sync_status(elem: Element | None) -> dict[str, Any]:
    return {
        "leadId": integer(child(elem, "leadId")),
        "status": text(child(elem, "status")),
        "error": text(child(elem, "error")),
    }
