"""Reading values out of a request's `params<Op>` element.

Children are found by local name: in strict mode the schema has already rejected anything
else, and in the default (lenient) mode the service hands handlers a copy holding only what
the version's schema declares, unqualified and in order (lenient.py). An element with
xsi:nil="true" reads as absent.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from runner.sandbox.faults import Fault
from runner.soap.namespaces import XSI

NIL = _NIL = f"{{{XSI}}}nil"  # xsi:nil, as ElementTree names the attribute


def local_name(elem: Element) -> str:
    return elem.tag.rpartition("}")[2]


def children(parent: Element | None, name: str) -> list[Element]:
    if parent is None:
        return []
    # local_name, inline: this runs for every element of a list (300 lead records).
    return [c for c in parent
            if c.tag.rpartition("}")[2] == name and c.get(_NIL) not in ("true", "1")]


def child(parent: Element | None, name: str) -> Element | None:
    if parent is None:
        return None
    # The first match, without building the list: this runs for every field of a request.
    return next((c for c in parent if local_name(c) == name and c.get(_NIL) not in ("true", "1")),
                None)


def required(parent: Element, name: str) -> Element:
    found = child(parent, name)
    if found is None:
        raise Fault(20109, f"{name} is required")
    return found


def text(parent: Element | None, name: str) -> str | None:
    found = child(parent, name)
    return None if found is None else (found.text or "")


def firsts(parent: Element | None) -> dict[str, Element]:
    """Each local name's first child that is not nil, in one pass: `child(parent, name)` is
    `firsts(parent).get(name)` (for reading many fields of one element)."""
    found: dict[str, Element] = {}
    if parent is None:
        return found
    for c in parent:
        name = c.tag.rpartition("}")[2]
        if name not in found and c.get(_NIL) not in ("true", "1"):
            found[name] = c
    return found


def text_of(found: Element | None) -> str | None:
    """`text` of an element already found (None when it was not)."""
    return None if found is None else (found.text or "")


def integer(parent: Element | None, name: str) -> int | None:
    return integer_of(text(parent, name), name)


def integer_of(value: str | None, name: str) -> int | None:
    """`integer` of a text already read."""
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise Fault(20110, f"{name} must be an integer, got {value!r}") from None


def boolean(parent: Element | None, name: str) -> bool | None:
    value = text(parent, name)
    if value is None:
        return None
    flag = {"true": True, "1": True, "false": False, "0": False}.get(value.strip())
    if flag is None:
        raise Fault(20110, f"{name} must be true or false, got {value!r}")
    return flag


def lead_keys(parent: Element | None) -> list[tuple[str, str]]:
    """`leadList/leadKey*` as (keyType, keyValue) pairs, in order."""
    return [
        ((text(key, "keyType") or "").strip(), text(key, "keyValue") or "")
        for key in children(child(parent, "leadList"), "leadKey")
    ]


def tokens(parent: Element | None) -> dict[str, str]:
    """`programTokenList/attrib*` as name → value; a repeated name keeps its last value."""
    return {
        text(attrib, "name") or "": text(attrib, "value") or ""
        for attrib in children(child(parent, "programTokenList"), "attrib")
    }
