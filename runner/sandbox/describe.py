"""The WSDL the sandbox serves for each API version, derived from the project's own 3_1 WSDL.

Two edits, both on the document (minidom keeps every namespace declaration, which the
`type="tns:..."` references need, and the comments):

- `for_version`: the 2_2 description is the 3_1 one without what 3_1 added, and with what
  2_2 had and later versions dropped (mktows-reference.md §2.1, §3.2, §3.5, §3.9; the tables
  are in versions.py). Only types the project's WSDL describes are touched, so an operation
  added to it later is derived the same way.
- `restrict`: only the operations the sandbox answers stay (port type, binding, their
  messages and their params/success elements), so a client generated from `?WSDL` offers
  nothing the sandbox would refuse.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any
from xml.dom.minidom import Comment, Document, Element, Node

from defusedxml.minidom import parseString

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XS_NS = "http://www.w3.org/2001/XMLSchema"


def parse(text: str) -> Document:
    return parseString(text)


def serialize(doc: Document) -> str:
    return doc.toxml(encoding="UTF-8").decode("utf-8")


def set_comment(doc: Document, text: str) -> None:
    """Replace the document's leading comment (what the file says it describes)."""
    comment = doc.createComment(f"\n{text.rstrip()}\n")
    first = doc.firstChild
    if isinstance(first, Comment):
        doc.replaceChild(comment, first)
    else:
        doc.insertBefore(comment, doc.documentElement)


def for_version(doc: Document, remove: Mapping[str, Iterable[str]],
                restore: Mapping[str, Iterable[tuple[str, str, str]]]) -> list[str]:
    """Edit complex types in place: drop the elements `remove` names per type, and put back
    each `(name, type, after)` of `restore` (optional, nillable) after its sibling `after`.
    Returns what changed, as `-Type/element` and `+Type/element`."""
    changes = []
    for complex_type in _all(_root(doc), XS_NS, "complexType"):
        name = complex_type.getAttribute("name")
        sequence = next(iter(_all(complex_type, XS_NS, "sequence")), None)
        if sequence is None:
            continue
        gone = set(remove.get(name, ()))
        for element in list(_children(sequence, XS_NS, "element")):
            if element.getAttribute("name") in gone:
                _drop(element)
                changes.append(f"-{name}/{element.getAttribute('name')}")
        for new_name, new_type, after in restore.get(name, ()):
            anchor = next((e for e in _children(sequence, XS_NS, "element")
                           if e.getAttribute("name") == after), None)
            if anchor is not None:
                _insert_after(anchor, _element(doc, anchor, new_name, new_type))
                changes.append(f"+{name}/{new_name}")
    return changes


def restrict(doc: Document, served: Collection[str]) -> None:
    """Keep only the operations in `served` (and what only they use: messages, elements)."""
    root = _root(doc)
    dropped_messages: set[str] = set()
    for port_type in _children(root, WSDL_NS, "portType"):
        for op in list(_children(port_type, WSDL_NS, "operation")):
            if op.getAttribute("name") not in served:
                for io in ("input", "output"):
                    for ref in _children(op, WSDL_NS, io):
                        dropped_messages.add(_local(ref.getAttribute("message")))
                _drop(op)
    for binding in _children(root, WSDL_NS, "binding"):
        for op in list(_children(binding, WSDL_NS, "operation")):
            if op.getAttribute("name") not in served:
                _drop(op, with_comment_before=True)
    dropped_elements: set[str] = set()
    for message in list(_children(root, WSDL_NS, "message")):
        if message.getAttribute("name") in dropped_messages:
            for part in _children(message, WSDL_NS, "part"):
                dropped_elements.add(_local(part.getAttribute("element")))
            _drop(message)
    for schema in _all(root, XS_NS, "schema"):
        for element in list(_children(schema, XS_NS, "element")):
            if element.getAttribute("name") in dropped_elements:
                _drop(element)


def drop_comments(doc: Document, mentioning: str) -> None:
    """Remove the comments (but the leading one) that mention `mentioning`: the 3_1
    description's notes on 3_1 additions would mislead in a 2_2 one."""
    def walk(node: Element) -> None:
        for child in list(node.childNodes):
            if isinstance(child, Comment) and mentioning in str(child.data):
                _drop(child)
            elif isinstance(child, Element):
                walk(child)
    walk(_root(doc))


def operations(doc: Document) -> list[str]:
    """The binding's operations, in document order."""
    return [op.getAttribute("name")
            for binding in _children(_root(doc), WSDL_NS, "binding")
            for op in _children(binding, WSDL_NS, "operation")]


# -- DOM helpers ------------------------------------------------------------------------
# minidom's stubs type a node's siblings and parent per kind of parent; these helpers only
# ever edit the children of an Element, so the nodes they move are typed Any.


def _root(doc: Document) -> Element:
    root = doc.documentElement
    if root is None:
        raise ValueError("the WSDL has no root element")
    return root


def _children(parent: Element, ns: str, name: str) -> list[Element]:
    return [c for c in parent.childNodes
            if isinstance(c, Element) and c.namespaceURI == ns and c.localName == name]


def _all(parent: Element, ns: str, name: str) -> list[Element]:
    return list(parent.getElementsByTagNameNS(ns, name))


def _local(qname: str) -> str:
    return qname.rpartition(":")[2]


def _blank(node: Any) -> bool:
    return node is not None and node.nodeType == Node.TEXT_NODE and not str(node.data).strip()


def _drop(node: Any, *, with_comment_before: bool = False) -> None:
    """Remove a node with its line: the indentation before it and a comment right after it
    on the same line (the project's WSDL marks 3_1 additions with `<!-- 3_1 only -->`), and
    with `with_comment_before` a comment on the lines just above (what it says of the node)."""
    parent: Any = node.parentNode
    if with_comment_before:
        above = node.previousSibling
        above = above.previousSibling if _blank(above) else above
        if isinstance(above, Comment):
            _drop(above)
    after, gap = node.nextSibling, None
    if _blank(after) and "\n" not in str(after.data):
        gap, after = after, after.nextSibling
    if isinstance(after, Comment):
        parent.removeChild(after)
        if gap is not None:
            parent.removeChild(gap)
    if _blank(node.previousSibling):
        parent.removeChild(node.previousSibling)
    parent.removeChild(node)


def _element(doc: Document, like: Element, name: str, type_name: str) -> Element:
    new = doc.createElementNS(XS_NS, like.tagName)
    for attr, value in (("name", name), ("type", type_name), ("minOccurs", "0"),
                        ("maxOccurs", "1"), ("nillable", "true")):
        new.setAttribute(attr, value)
    return new


def _insert_after(anchor: Element, new: Element) -> None:
    """Insert `new` after `anchor`, on its own line with the anchor's indentation."""
    parent: Any = anchor.parentNode
    indent: Any = anchor.previousSibling
    following = anchor.nextSibling
    if _blank(indent):
        parent.insertBefore(parent.ownerDocument.createTextNode(str(indent.data)), following)
    parent.insertBefore(new, following)
