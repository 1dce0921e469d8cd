"""Builds mktows SOAP 1.1 envelopes as text, in the WSDL's element order.

The body is written from the schema's own content model (so a user's --wsdl changes the order
and the allowed fields), with the operation element prefixed and its children unqualified.
The AuthenticationHeader is stamped separately, at send time, so a retry re-signs without
rebuilding the body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

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
    out = escape(text)
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


class BodyWriter:
    """Writes one body element from a mapping, walking the schema's sequences in order."""

    def __init__(self, schema: ServiceSchema) -> None:
        self.schema = schema

    def write(self, element: str, params: Mapping[str, Any]) -> Body:
        issues: list[BuildIssue] = []
        out = [f'<ns1:{element} xmlns:ns1="{MKTOWS}" xmlns:xsi="{XSI}">']
        shape = self._children(self.schema.element(element), params, "", out, issues)
        out.append(f"</ns1:{element}>")
        return Body(element, "".join(out), issues, shape)

    def _children(self, decl: Any, value: Mapping[str, Any], path: str, out: list[str],
                  issues: list[BuildIssue]) -> tuple[Any, ...]:
        children, known = self.schema.layout(decl)
        if not known.issuperset(value):
            for key in value:
                if key not in known:
                    allowed = ", ".join(c.name for c in children) or "no child elements"
                    issues.append(BuildIssue(f"{path}{key}", f"not an element of "
                                             f"{decl.local_name} in {self.schema.source} "
                                             f"(allowed: {allowed})"))
        shape: list[Any] = []
        for child in children:
            name = child.name
            if name not in value:
                continue
            item = value[name]
            if child.plain_text and item is not None and (
                    type(item) is str or not isinstance(item, dict | list)):
                # The hot path (attribute names and values, emails): text needs no per-value
                # check, the body's one scan for illegal characters covers it.
                text = item if type(item) is str else _scalar(item)
                out.append(f"<{name}>{xml_text(text)}</{name}>")
                shape.append((name,))
                continue
            items = item if isinstance(item, list) and child.max_occurs != 1 else [item]
            seen: set[Any] = set()
            for i, one in enumerate(items):
                where = f"{path}{name}" + (f"[{i}]" if items is item else "")
                sub = self._element(name, child.decl, one, where, out, issues)
                # An unbounded element's repeats add nothing new to the shape.
                if child.max_occurs is not None or sub not in seen:
                    shape.append(sub)
                    seen.add(sub)
        return tuple(shape)

    def _element(self, name: str, decl: Any, value: Any, path: str, out: list[str],
                 issues: list[BuildIssue]) -> tuple[Any, ...]:
        if value is None:
            out.append(f'<{name} xsi:nil="true"/>')
            return (name, "nil")
        if isinstance(value, dict):  # dict, not Mapping: an ABC check per element is slow
            out.append(f"<{name}>")
            inner = self._children(decl, value, path + ".", out, issues)
            out.append(f"</{name}>")
            return (name, inner)
        if isinstance(value, list):
            issues.append(BuildIssue(path, f"{name} takes one value, not a list"))
            return (name, "list")
        text = _scalar(value)
        problem = self.schema.value_error(decl, text)
        if problem:
            issues.append(BuildIssue(path, problem))
        out.append(f"<{name}>{xml_text(text)}</{name}>")
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
