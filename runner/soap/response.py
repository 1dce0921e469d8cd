"""Reads mktows replies: Fault first, then the success element into typed outputs.

A reply must say it is XML (Content-Type text/xml, or application/soap+xml) before it is
parsed. Parsing refuses DTDs (hence entity declarations and external references), so a
hostile reply can neither expand entities nor reach files or URLs (runner.soap.safexml: the C
parser where no DTD can stand, defusedxml elsewhere). Parsing works within an element budget,
so a flood of tiny elements cannot turn the (transport-capped) body into hundreds of MB of
tree. An HTTP 5xx without a SOAP Fault is a TransportError (sent=True,
http_status set): the server failed, and a retry policy may back off and try again; a 5xx
carrying a Fault is Marketo's SoapFaultError as always. Prefixes are ignored: Marketo writes
SOAP-ENV/ns1, other stacks write tns. Server-supplied text in messages is clipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from runner.errors import ResponseError, SoapFaultError, TransportError
from runner.model import HttpReply
from runner.soap import safexml
from runner.soap.elements import child as _child
from runner.soap.elements import integer as _int
from runner.soap.elements import local as _local
from runner.soap.elements import text as _text
from runner.soap.namespaces import SOAP_ENV

_LEADING_CODE = re.compile(r"^\s*(\d{5})\b")
_XML_TYPES = ("text/xml", "application/soap+xml")  # SOAP 1.1 replies are text/xml
# A legitimate 16 MiB reply (the transport's cap) holds ~650k elements; ElementTree spends
# ~90 bytes on each, so this bounds the tree to ~45 MB whatever the body.
MAX_ELEMENTS = 500_000
MAX_MESSAGE = 500  # characters of server text (fault message, tag names) kept in messages


def _clip(text: str, limit: int = MAX_MESSAGE) -> str:
    text = "".join(c if c.isprintable() or c in "\n\t" else "?" for c in text[:limit + 1])
    return text if len(text) <= limit else text[:limit] + "..."


def parse_xml(body: bytes) -> Element:
    """The root element; ResponseError for anything but plain, DTD-free, bounded XML."""
    # Every element starts with '<': counting them in C before parsing bounds the tree
    # without a Python callback per element (which would cost more than the parse itself).
    if body.count(b"<") > MAX_ELEMENTS:
        raise ResponseError(f"the reply has more than {MAX_ELEMENTS} elements; refused")
    try:
        return safexml.parse(body, forbid_dtd=True)
    except DTDForbidden:
        raise ResponseError("the reply has a DTD (<!DOCTYPE>); refused") from None
    except EntitiesForbidden:
        raise ResponseError("the reply declares entities; refused") from None
    except ExternalReferenceForbidden:
        raise ResponseError("the reply refers to an external resource; refused") from None
    except (ParseError, DefusedXmlException) as exc:
        raise ResponseError(f"the reply is not well-formed XML: {_clip(str(exc), 100)}") from None


def body_child(root: Element) -> Element:
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise ResponseError(
            f"the reply is not a SOAP 1.1 envelope (root {_clip(_local(root.tag), 80)})")
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
    return SoapFaultError(code, _clip(message.strip()), http_status)


def _is_xml(content_type: str) -> bool:
    """text/xml or application/soap+xml, any parameters, any case."""
    return content_type.split(";", 1)[0].strip().lower() in _XML_TYPES


def _with_type(content_type: str) -> str:
    if not content_type.strip():
        return "without a Content-Type"
    return f"with Content-Type {_clip(content_type.strip(), 60)!r}"


def _first_body_child(reply: HttpReply) -> Element:
    """Status and Content-Type checked, then the Body's first child (maybe a Fault)."""
    status = reply.status
    if 300 <= status < 400:
        raise ResponseError(f"HTTP {status}: a redirect, which is not followed "
                            "(check the endpoint URL)")
    if not reply.body.strip():
        raise ResponseError(f"HTTP {status} with an empty body")
    if not _is_xml(reply.content_type):
        raise ResponseError(f"HTTP {status} {_with_type(reply.content_type)}, "
                            "not a SOAP reply (text/xml)")
    return body_child(parse_xml(reply.body))


def read(reader: Callable[[Element], dict[str, Any]], output_element: str,
         reply: HttpReply) -> dict[str, Any]:
    """The operation's outputs, as its `reader` (its SoapEncoding.read) takes them from the
    success element's <result>; SoapFaultError for a Fault (whatever the HTTP status),
    TransportError for a 5xx without one, ResponseError for any other unusable reply."""
    try:
        first = _first_body_child(reply)
    except ResponseError as exc:
        if reply.status < 500:
            raise
        # The server failed and did not say so in SOAP: a TransportError a retry may cure.
        text = str(exc) if str(exc).startswith("HTTP ") else f"HTTP {reply.status}: {exc}"
        raise TransportError(text, sent=True, http_status=reply.status) from None
    if _local(first.tag) == "Fault":
        raise fault(first, reply.status)
    if reply.status >= 500:
        raise TransportError(f"HTTP {reply.status} without a SOAP Fault", sent=True,
                             http_status=reply.status)
    if not 200 <= reply.status < 300:
        raise ResponseError(f"HTTP {reply.status} without a SOAP Fault")
    if _local(first.tag) != output_element:
        raise ResponseError(
            f"expected {output_element} in the reply, got {_clip(_local(first.tag), 80)}")
    result = _child(first, "result")
    if result is None:
        raise ResponseError(f"{output_element} has no result")
    return reader(result)
