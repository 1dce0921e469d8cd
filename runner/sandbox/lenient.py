"""Reading a request the way production Marketo did, and saying what it dropped.

Marketo's server did not validate requests (mktows-reference.md §4 item 12): it took the
elements it knew wherever they stood and ignored the others without a word (§3.2: a
miscased `foreignSysPersonId` came back nil on a CREATED lead). `read` rebuilds an
element from what the version's schema declares, so every handler sees exactly what
production applied, and lists the rest so the request log can show what production
would have silently dropped.

- A child is known by its exact (case-sensitive) local name, unqualified or in the mktows
  namespace: the docs' Java samples and Talend's production client send a qualified
  `leadAttributeList` (§1.2). Any order is read; the copy is in schema order.
- Ignored: an unknown name (a miscased one included, or an element of a later API
  version), an element in another namespace, occurrences past the declared maxOccurs
  (the first ones are kept), and child elements of a simple-typed element.
- Values are copied as sent; their types are the handlers' business (a `returnLead` that
  is not a boolean is 20110).
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from runner.soap.namespaces import MKTOWS
from runner.soap.xsd import Child, ServiceSchema

_KNOWN_NAMESPACES = ("", MKTOWS)


def read(schema: ServiceSchema, name: str, elem: Element) -> tuple[Element, list[str]]:
    """A copy of `elem` (read as the global element `name`) holding only what the schema
    declares, and the paths of the elements it ignored (e.g. `paramsSyncLead/leadRecord/
    foreignSysPersonId`, `leadRecordList/leadRecord[2]/id` for a repeated element)."""
    ignored: list[str] = []
    copy = _read(schema, schema.element(name), elem, name, ignored)
    copy.tag = elem.tag  # the global element keeps its qualified name
    return copy, ignored


def label(elem: Element) -> str:
    """An element's name for the log: its local name, `{namespace}name` if foreign."""
    ns, local = _split(elem.tag)
    return local if ns in _KNOWN_NAMESPACES else f"{{{ns}}}{local}"


def _read(schema: ServiceSchema, decl: Any, elem: Element, path: str,
          ignored: list[str]) -> Element:
    # Hot for big syncMultipleLeads bodies: one pass over the children, no sort when they
    # come in schema order (the usual case), the type's name index built once per type.
    copy = Element(_split(elem.tag)[1], elem.attrib)
    index = _index(schema, decl)
    if index is None:  # a simple type (or simple content): the text is the value
        copy.text = elem.text
        ignored.extend(f"{path}/{label(c)}" for c in elem)
        return copy
    kept: list[tuple[int, Element]] = []
    counts: dict[str, int] = {}
    last, in_order = -1, True
    for child in elem:
        tag = child.tag
        if tag[:1] == "{":  # _split, inline: this loop sees every element of the body
            ns, _, local = tag[1:].partition("}")
            entry = index.get(local) if ns in _KNOWN_NAMESPACES else None
        else:
            local = tag
            entry = index.get(local)
        if entry is None:
            ignored.append(f"{path}/{label(child)}")
            continue
        position, known = entry
        n = counts[local] = counts.get(local, 0) + 1
        most = known.max_occurs
        if most is not None and n > most:
            where = f"{path}/{local}" if most == 1 else f"{path}/{local}[{n}]"
            ignored.append(where if most != 1 else f"{where}[{n}]")
            continue
        in_order = in_order and position >= last
        last = position
        if not len(child) and _index(schema, known.decl) is None:
            # A simple-typed leaf (most of a big body): its copy is its name, attributes
            # and text, as _read would make it, without the path it would never use.
            leaf = Element(local, child.attrib)
            leaf.text = child.text
            kept.append((position, leaf))
            continue
        where = f"{path}/{local}" if most == 1 else f"{path}/{local}[{n}]"
        kept.append((position, _read(schema, known.decl, child, where, ignored)))
    if not in_order:
        kept.sort(key=lambda pair: pair[0])  # stable: repeated elements keep their order
    copy.extend([e for _, e in kept])
    return copy


_INDEXES: dict[int, dict[str, tuple[int, Child]] | None] = {}


def _index(schema: ServiceSchema, decl: Any) -> dict[str, tuple[int, Child]] | None:
    """The declared children of an element's type by name, with their schema position;
    None for a simple type. Memoised by type (types live as long as their schema)."""
    key = id(decl.type)
    if key not in _INDEXES:
        declared = schema.children(decl)
        _INDEXES[key] = {c.name: (i, c) for i, c in enumerate(declared)} if declared else None
    return _INDEXES[key]


def _split(tag: str) -> tuple[str, str]:
    if tag[:1] == "{":
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag
