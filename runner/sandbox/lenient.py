"""Reading a request the way production Marketo did, and saying what it dropped.

Marketo's server did not validate requests (mktows-reference.md §4 item 12): it took the
elements it knew wherever they stood and ignored the others without a word (§3.2: a
miscased `foreignSysPersonId` came back nil on a CREATED lead). `read` rebuilds an
element from what the version's schema declares, so every handler sees exactly what
production applied, and lists the rest so the request log can show what production
would have silently dropped. An element with nothing to drop or reorder (the usual
request) is handed on as it is: a handler reads it as it would read the copy.

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

from operator import attrgetter
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
    decl = schema.element(name)
    if _as_read(schema, decl, elem):
        # Production would apply every element as it stands: the copy would read the same
        # (same children in the same order, names read by local name, same attributes and
        # leaf texts), so the request itself is what the handler reads.
        return elem, ignored
    copy = _read(schema, decl, elem, name, ignored)
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


def _as_read(schema: ServiceSchema, decl: Any, elem: Element) -> bool:
    """True when `_read` would drop nothing and move nothing: every child declared, in
    schema order, within its maxOccurs, and no element inside a simple-typed one. Checked
    by the children's names, one lookup per element (a big body repeats a few shapes)."""
    index = _index(schema, decl)
    if index is None:
        return not len(elem)
    tags = tuple(map(_TAG, elem))
    key = (id(decl.type), tags)
    plan = _PLANS.get(key, _UNSEEN)
    if plan is _UNSEEN:
        plan = _plan(schema, index, tags)
        if len(_PLANS) > 4096:
            _PLANS.clear()  # bounded: a client inventing shapes cannot grow it forever
        _PLANS[key] = plan
    if plan is None:
        return False
    for child, (sub, repeated) in zip(elem, plan, strict=True):  # the plan has one per child
        if sub is None:
            if len(child):  # a simple-typed element holding elements: they would be dropped
                return False
        elif not (_item_as_read(schema, sub, child) if repeated
                  else _as_read(schema, sub, child)):
            return False
    return True


def _item_as_read(schema: ServiceSchema, decl: Any, elem: Element) -> bool:
    """`_as_read` of one item of a list (300 lead records), by its whole subtree's shape:
    the names in document order and each element's number of children determine the tree,
    which is all `_as_read` looks at; taken at C speed, then one lookup."""
    key = (id(decl.type), tuple(map(_TAG, elem.iter())), tuple(map(len, elem.iter())))
    found = _ITEMS.get(key)
    if found is None:
        found = _as_read(schema, decl, elem)
        if len(_ITEMS) > 4096:
            _ITEMS.clear()  # bounded, as _PLANS
        _ITEMS[key] = found
    return found


def _plan(schema: ServiceSchema, index: dict[str, tuple[int, Child]],
          tags: tuple[str, ...]) -> tuple[tuple[Any, bool], ...] | None:
    """For children named `tags`: None when `_read` would drop or reorder one, else each
    child's declaration (None for a simple-typed one, a leaf) and whether it may repeat."""
    subs: list[tuple[Any, bool]] = []
    counts: dict[str, int] = {}
    last = -1
    for tag in tags:
        ns, local = _split(tag)
        entry = index.get(local) if ns in _KNOWN_NAMESPACES else None
        if entry is None:
            return None
        position, known = entry
        n = counts[local] = counts.get(local, 0) + 1
        most = known.max_occurs
        if (most is not None and n > most) or position < last:
            return None
        last = position
        leaf = _index(schema, known.decl) is None
        subs.append((None if leaf else known.decl, most is None or most > 1))
    return tuple(subs)


_TAG = attrgetter("tag")
_UNSEEN: Any = object()
_PLANS: dict[tuple[int, tuple[str, ...]], tuple[tuple[Any, bool], ...] | None] = {}
_ITEMS: dict[tuple[int, tuple[str, ...], tuple[int, ...]], bool] = {}
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
