"""Parsing XML from the network (mktows replies in the runner, requests in the sandbox): never
a DTD's entities or external references (XXE, billion laughs), and fast for what every SOAP
stack writes. The one place that decides when ElementTree's C parser may be used.

defusedxml refuses entities and external references, but parses in pure Python (2.5-3x the C
parser on a 300-lead body). A document whose root element starts right after its XML
declaration (and white space), in an encoding that keeps ASCII bytes as they are, cannot hold
a DTD (a document type declaration may only come before the root), so the C parser reads it,
through a target whose doctype hook refuses should one appear all the same. Anything else (a
DTD, a comment or processing instruction first, a byte order mark, UTF-16, another declared
encoding) goes through defusedxml, and so does a document the C parser fails on, so that
errors are always worded by defusedxml.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError, TreeBuilder, XMLParser

from defusedxml import DTDForbidden
from defusedxml.ElementTree import DefusedXMLParser

_PLAIN_PROLOG = re.compile(
    rb"(?:<\?xml[ \t\r\n](?:[^<>]*?[ \t\r\n]encoding[ \t\r\n]*=[ \t\r\n]*[\"']"
    rb"(?P<encoding>[^\"']*)[\"'])?[^<>]*\?>)?[ \t\r\n]*<[A-Za-z_]")
_ASCII_ENCODINGS = frozenset({b"utf-8", b"utf8", b"us-ascii", b"ascii", b"iso-8859-1",
                              b"latin-1", b"latin1"})


class _NoDoctype:
    """The C parser's target: ElementTree's C TreeBuilder, its methods bound straight in (no
    Python frame per element), and a doctype hook that refuses."""

    __slots__ = ("close", "data", "end", "start")

    def __init__(self) -> None:
        builder = TreeBuilder()
        self.start, self.end, self.data, self.close = (builder.start, builder.end,
                                                       builder.data, builder.close)

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise DTDForbidden(name, system, pubid)


def no_dtd_possible(body: bytes) -> bool:
    """True when `body` surely holds no DTD: its root follows the XML declaration, in an
    encoding that writes ASCII as ASCII."""
    prolog = _PLAIN_PROLOG.match(body)
    if prolog is None:
        return False
    encoding = prolog.group("encoding")
    return encoding is None or encoding.lower() in _ASCII_ENCODINGS


def parse(body: bytes, *, forbid_dtd: bool) -> Element:
    """The root element. Raises ParseError, or defusedxml's DefusedXmlException (DTDForbidden,
    EntitiesForbidden, ExternalReferenceForbidden); `forbid_dtd` refuses even a DTD without
    entities (a reply has no business holding one; the sandbox accepts what Marketo does)."""
    if no_dtd_possible(body):
        parser = XMLParser(target=_NoDoctype())
        try:
            parser.feed(body)
            root: Element = parser.close()
            return root
        except ParseError:
            pass  # defusedxml says what is wrong, in its words
    safe = DefusedXMLParser(forbid_dtd=forbid_dtd, forbid_entities=True, forbid_external=True)
    safe.feed(body)
    found: Element = safe.close()
    return found
