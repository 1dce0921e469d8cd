"""Builds mktows SOAP 1.1 envelopes as text, in the WSDL's element order.

The body is written from the schema's own content model (so a user's --wsdl changes the order
and the allowed fields), with the operation element prefixed and its children unqualified.
The AuthenticationHeader is stamped separately, at send time, so a retry re-signs without
rebuilding the body.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.soap.namespaces import MKTOWS, SOAP_ENV, XSI
from runner.soap.xsd import ServiceSchema

_ENVELOPE_OPEN = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" '
    f'xmlns:ns1="{MKTOWS}" xmlns:xsi="{XSI}"><SOAP-ENV:Header>'
)
_BODY_OPEN = "</SOAP-ENV:Header><SOAP-ENV:Body>"
_ENVELOPE_CLOSE = "</SOAP-ENV:Body></SOAP-ENV:Envelope>"

# Characters XML 1.0 cannot carry at all, escaped or not: C0 controls but tab, LF and CR; lone
# surrogates (they cannot even be encoded as UTF-8); U+FFFE and U+FFFF.
UNSENDABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# What xml_text changes: markup (escaped) and CR (written as a reference).
_MARKUP = re.compile("[&<>\r]")


def unsendable(text: str) -> str | None:
    """The first character of `text` that XML 1.0 cannot carry, or None."""
    found = UNSENDABLE.search(text)
    return found.group() if found else None


def xml_text(text: str) -> str:
    """`text` as element content that a parser reads back as exactly `text`.

    Markup is escaped, and a carriage return is written as `&#13;`: a parser turns a literal
    CR (or CR LF) into LF (line-end normalisation), so `Ada\r\nLovelace` would arrive as
    `Ada\nLovelace`. Tab and LF survive in element content (only attributes normalise them).
    """
    if _MARKUP.search(text) is None:
        return text  # the usual value: nothing to escape
    # As xml.sax.saxutils.escape does (that module imports urllib.request: ~20 ms of start-up).
    out = text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
    return out.replace("\r", "&#13;") if "\r" in out else out


@dataclass(frozen=True)
class BuildIssue:
    """A parameter the schema does not allow; `path` is in playbook terms (dotted/indexed)."""

    path: str
    message: str


@dataclass(frozen=True)
class Body:
    """A written body element: its text, what is wrong with it, and its structural shape.

    `shape` is the element tree with values left out and runs of an unbounded element
    collapsed: two bodies of the same shape whose values each fit their simple types are
    equally valid, which is what lets the schema check skip repeats (see xsd.check_body).
    """

    element: str
    text: str
    issues: list[BuildIssue]
    shape: tuple[Any, ...]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Where an element is, built only when a problem names it: (the parent element's path, the
# element's name, its index in a list or None); None is the body element.
_Path = tuple[Any, str, int | None] | None


def _dotted(path: _Path) -> str:
    """The playbook-style path of an element: `leadRecordList.leadRecord[3].Email`."""
    names: list[str] = []
    while path is not None:
        path, name, index = path
        names.append(name if index is None else f"{name}[{index}]")
    return ".".join(reversed(names))


# One child element of a complex type, ready to write: name, declaration, open and close tags,
# its shape when it holds text, whether it is xs:string (plain text), maxOccurs.
_Slot = tuple[str, Any, str, str, tuple[str], bool, int | None]
# How to write a record of a list whose every value is text (an attribute, a lead key), for
# its keys (in their order): the tags before its first value; each child it fills in schema
# order (name, the declaration when the text is checked against a simple type, the tags
# between its value and the next); and the record's shape.
_Leaves = tuple[str, tuple[tuple[str, Any, str], ...], tuple[Any, ...]]
# A complex type's children as slots, their names, what a problem lists as allowed, and its
# records' _Leaves by their keys (None: a key is not a child); the declaration is kept so that
# its id stays its own.
_Layout = tuple[Any, tuple[_Slot, ...], frozenset[str], str, dict[tuple[Any, ...], _Leaves | None]]
MAX_LEAVES = 256  # key orders remembered per type (a data file could bring any number)

# Each schema's layouts, made once: the walk of every body needs them per element.
_LAYOUTS: weakref.WeakKeyDictionary[ServiceSchema, dict[int, _Layout]] = (
    weakref.WeakKeyDictionary())


class BodyWriter:
    """Writes one body element from a mapping, walking the schema's sequences in order.

    Values are written as they are and escaped at the end, only when one of them holds
    markup (one scan of all the body's values rather than one per value)."""

    def __init__(self, schema: ServiceSchema) -> None:
        self.schema = schema
        try:
            layouts = _LAYOUTS.get(schema)
            if layouts is None:
                layouts = _LAYOUTS[schema] = {}
        except TypeError:  # a schema that takes no weak reference: layouts for this body
            layouts = {}
        self._layouts = layouts

    def write(self, element: str, params: Mapping[str, Any]) -> Body:
        issues: list[BuildIssue] = []
        out = [f'<ns1:{element} xmlns:ns1="{MKTOWS}" xmlns:xsi="{XSI}">']
        texts: list[int] = []  # where in `out` a value was written unescaped
        shape = self._children(self.schema.element(element), params, None, out, issues, texts)
        out.append(f"</ns1:{element}>")
        if texts and _MARKUP.search("".join([out[i] for i in texts])) is not None:
            for i in texts:
                out[i] = xml_text(out[i])
        return Body(element, "".join(out), issues, shape)

    def _layout(self, decl: Any) -> _Layout:
        children, known = self.schema.layout(decl)
        slots = tuple((c.name, c.decl, f"<{c.name}>", f"</{c.name}>", (c.name,), c.plain_text,
                       c.max_occurs) for c in children)
        allowed = ", ".join(c.name for c in children) or "no child elements"
        found = self._layouts[id(decl)] = (decl, slots, known, allowed, {})
        return found

    def _leaves(self, layout: _Layout, name: str, keys: tuple[Any, ...]) -> _Leaves | None:
        """The _Leaves of a `name` record with these keys, made once per key order: what
        _children would do for it when every value is text (None: a key is not a child)."""
        _, slots, known, _, leaves = layout
        found: _Leaves | None = None
        # Every slot the record fills, in schema order (a name twice in the sequence is
        # written twice, as _children does); text of an xs:string needs no check. Only for a
        # record of simple elements (one of a complex type holds a record, not text).
        filled = [slot for slot in slots if slot[0] in keys]
        if known.issuperset(keys) and not any(self._has_children(slot[1]) for slot in filled):
            entries = []
            for k, slot in enumerate(filled):
                after = filled[k + 1][2] if k + 1 < len(filled) else f"</{name}>"
                entries.append((slot[0], None if slot[5] else slot[1], slot[3] + after))
            found = (f"<{name}>" + (filled[0][2] if filled else f"</{name}>"), tuple(entries),
                     (name, tuple(slot[4] for slot in filled)))
        if len(leaves) >= MAX_LEAVES:
            leaves.clear()
        leaves[keys] = found
        return found

    def _has_children(self, decl: Any) -> bool:
        layout = self._layouts.get(id(decl)) or self._layout(decl)
        return bool(layout[1])

    def _children(self, decl: Any, value: Mapping[str, Any], path: _Path, out: list[str],
                  issues: list[BuildIssue], texts: list[int]) -> tuple[Any, ...]:
        layout = self._layouts.get(id(decl))
        if layout is None:
            layout = self._layout(decl)
        _, slots, known, allowed, _ = layout
        if not known.issuperset(value):
            prefix = "" if path is None else _dotted(path) + "."
            for key in value:
                if key not in known:
                    issues.append(BuildIssue(f"{prefix}{key}", f"not an element of "
                                             f"{decl.local_name} in {self.schema.source} "
                                             f"(allowed: {allowed})"))
        shape: list[Any] = []
        for name, child, open_tag, close_tag, leaf, plain, max_occurs in slots:
            if name not in value:
                continue
            item = value[name]
            if plain and item is not None:
                # The hot path (attribute names and values, emails): text needs no per-value
                # check, the body's one scan for illegal characters covers it.
                if type(item) is str:
                    out.append(open_tag)
                    texts.append(len(out))
                    out.append(item)
                    out.append(close_tag)
                    shape.append(leaf)
                    continue
                if not isinstance(item, dict | list):
                    out.append(open_tag)
                    texts.append(len(out))
                    out.append(_scalar(item))
                    out.append(close_tag)
                    shape.append(leaf)
                    continue
            if isinstance(item, list) and max_occurs != 1:
                seen: set[Any] = set()
                sub: tuple[Any, ...]
                records: _Layout | None = None  # the child's layout, once a record is met
                for i, one in enumerate(item):
                    if type(one) is dict:
                        # A record of text values (the attributes of a lead, lead keys): written
                        # from its _Leaves, without a walk; if a value is not text after all,
                        # what was written is taken back and the record walked as below.
                        if records is None:
                            records = self._layouts.get(id(child)) or self._layout(child)
                        keys = tuple(one)
                        leaves = records[4].get(keys)  # (one lookup: another thread may clear)
                        if leaves is None and keys not in records[4]:
                            leaves = self._leaves(records, name, keys)
                        if leaves is not None:
                            mark, marked = len(out), len(texts)
                            out.append(leaves[0])
                            for key, simple, tags in leaves[1]:
                                text = one[key]
                                if type(text) is not str or (
                                        simple is not None and self.schema.value_error(simple, text)):
                                    break
                                texts.append(len(out))
                                out.append(text)
                                out.append(tags)
                            else:
                                sub = leaves[2]
                                if max_occurs is not None or sub not in seen:
                                    shape.append(sub)
                                    seen.add(sub)
                                continue
                            del out[mark:], texts[marked:]
                    if isinstance(one, dict):  # (a record of a list: _element, inline)
                        out.append(open_tag)
                        sub = (name, self._children(
                            child, one, (path, name, i), out, issues, texts))
                        out.append(close_tag)
                    else:
                        sub = self._element(name, child, one, (path, name, i), out, issues,
                                            texts)
                    # An unbounded element's repeats add nothing new to the shape.
                    if max_occurs is not None or sub not in seen:
                        shape.append(sub)
                        seen.add(sub)
            else:
                shape.append(self._element(name, child, item, (path, name, None), out, issues,
                                           texts))
        return tuple(shape)

    def _element(self, name: str, decl: Any, value: Any, path: _Path, out: list[str],
                 issues: list[BuildIssue], texts: list[int]) -> tuple[Any, ...]:
        if value is None:
            out.append(f'<{name} xsi:nil="true"/>')
            return (name, "nil")
        if isinstance(value, dict):  # dict, not Mapping: an ABC check per element is slow
            out.append(f"<{name}>")
            inner = self._children(decl, value, path, out, issues, texts)
            out.append(f"</{name}>")
            return (name, inner)
        if isinstance(value, list):
            issues.append(BuildIssue(_dotted(path), f"{name} takes one value, not a list"))
            return (name, "list")
        text = _scalar(value)
        problem = self.schema.value_error(decl, text)
        if problem:
            issues.append(BuildIssue(_dotted(path), problem))
        out.append(f"<{name}>")
        texts.append(len(out))
        out.append(text)
        out.append(f"</{name}>")
        return (name,)


def build(schema: ServiceSchema, operation: str, content: Mapping[str, Any]) -> tuple[
        Body | None, list[tuple[str, str]]]:
    """The operation's body from its content, keyed by WSDL names (the operation's
    SoapEncoding made it), XSD-checked; problems as (dotted sub-path, message)."""
    binding = schema.bindings.get(operation)
    if binding is None:
        return None, [("", f"operation {operation} is not in the WSDL {schema.source}")]
    body = BodyWriter(schema).write(binding.input_element, dict(content))
    if body.issues:
        return body, [(i.path, i.message) for i in body.issues]
    return body, [("", f"not valid against {schema.source}: {m}") for m in schema.check_body(body)]


def auth_header(user_id: str, signature: str, timestamp: str, partner_id: str | None = None) -> str:
    partner = f"<partnerId>{xml_text(partner_id)}</partnerId>" if partner_id else ""
    return (
        f"<ns1:AuthenticationHeader><mktowsUserId>{xml_text(user_id)}</mktowsUserId>"
        f"<requestSignature>{xml_text(signature)}</requestSignature>"
        f"<requestTimestamp>{xml_text(timestamp)}</requestTimestamp>{partner}"
        "</ns1:AuthenticationHeader>"
    )


def context_header(workspace: str) -> str:
    return (
        f"<ns1:MktowsContextHeader><targetWorkspace>{xml_text(workspace)}</targetWorkspace>"
        "</ns1:MktowsContextHeader>"
    )


def envelope(headers: str, body: str) -> str:
    return _ENVELOPE_OPEN + headers + _BODY_OPEN + body + _ENVELOPE_CLOSE


def assemble(body: str, user_id: str, signature: str, timestamp: str,
             partner_id: str | None = None, workspace: str | None = None) -> str:
    """A whole request: the authentication header (and the workspace's context header, when
    the call names one) around a built body. Sending and `plan --envelopes` both use it."""
    headers = auth_header(user_id, signature, timestamp, partner_id)
    if workspace:
        headers += context_header(workspace)
    return envelope(headers, body)
