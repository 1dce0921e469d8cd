"""Success envelopes as text, written the way Marketo writes them (mktows-reference.md §8).

`SOAP-ENV:` and `ns1:` prefixes, xsi declared, the success element qualified and everything
inside it unqualified. Plain string templates: the shapes are fixed and small, and every
value goes through `escape`.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape

from runner.sandbox.fixture import Fixture
from runner.sandbox.store import Lead
from runner.soap.namespaces import MKTOWS, SOAP_ENV, XSI

CONTENT_TYPE = "text/xml;charset=UTF-8"

_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:ns1="{MKTOWS}" xmlns:xsi="{XSI}">'
    "<SOAP-ENV:Body><ns1:{element}>{content}</ns1:{element}></SOAP-ENV:Body>"
    "</SOAP-ENV:Envelope>"
)

Value = str | int | bool | None


def envelope(element: str, content: str) -> bytes:
    """The whole reply for `success<Op>` around already-rendered `content`."""
    return _ENVELOPE.format(element=element, content=content).encode("utf-8")


def el(name: str, value: Value) -> str:
    """One simple element; None is written as xsi:nil, booleans as true/false."""
    if value is None:
        return f'<{name} xsi:nil="true"/>'
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = escape(str(value))
    return f"<{name}>{text}</{name}>" if text else f"<{name}/>"


def wrap(name: str, *parts: str) -> str:
    return f"<{name}>{''.join(parts)}</{name}>"


def result(*parts: str) -> str:
    return wrap("result", *parts)


def sync_status(lead_id: int, status: str, error: str | None = None) -> str:
    return wrap("syncStatus", el("leadId", lead_id), el("status", status), el("error", error))


def lead_record(lead: Lead, fixture: Fixture) -> str:
    """A LeadRecord with its attributes typed from the catalogue, fields in catalogue order.

    Empty string values are left out, as Marketo does in getLead (§3.6).
    """
    return wrap(
        "leadRecord",
        el("Id", lead.id),
        el("Email", lead.email),
        el("ForeignSysPersonId", lead.foreign_sys_person_id),
        el("ForeignSysType", lead.foreign_sys_type),
        wrap("leadAttributeList", *_attributes(lead, fixture)),
    )


def _attributes(lead: Lead, fixture: Fixture) -> Iterable[str]:
    rank = fixture.field_rank
    # A field dropped from the fixture since the lead was stored sorts last, typed string.
    for name in sorted(lead.attributes, key=lambda n: (rank.get(n, len(rank)), n)):
        value = lead.attributes[name]
        if value == "" or name in fixture.rest_only:  # REST-only fields have no SOAP name
            continue
        known = fixture.field(name)
        kind = known.type if known else "string"
        yield wrap("attribute", el("attrName", name), el("attrType", kind), el("attrValue", value))
