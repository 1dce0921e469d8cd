"""Success envelopes as text, written the way Marketo writes them (mktows-reference.md §8).

`SOAP-ENV:` and `ns1:` prefixes, the success element qualified and everything inside it
unqualified. `xmlns:xsi` is declared only when the reply uses it: Marketo's syncLead reply
(nil `error`, nil `leadRecord`) declares it, its requestCampaign and scheduleCampaign
replies do not (§8 items 1 and 4), which is how PHP's SoapServer, whose `SOAP-ENV`/`ns1`
prefixes Marketo's replies carry, writes envelopes. Plain string templates: the shapes are
fixed and small, and every value goes through `escape`.
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
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:ns1="{MKTOWS}"{{xsi}}>'
    "<SOAP-ENV:Body><ns1:{element}>{content}</ns1:{element}></SOAP-ENV:Body>"
    "</SOAP-ENV:Envelope>"
)
_XSI = f' xmlns:xsi="{XSI}"'
_NIL = 'xsi:nil="true"'

Value = str | int | bool | None


def envelope(element: str, content: str) -> bytes:
    """The whole reply for `success<Op>` around already-rendered `content`."""
    # Only `el` writes xsi (as nil). A text value quoting `xsi:nil="true"` would at worst
    # add a declaration nothing uses, which changes no reading of the reply.
    xsi = _XSI if _NIL in content else ""
    return _ENVELOPE.format(element=element, content=content, xsi=xsi).encode("utf-8")


def el(name: str, value: Value) -> str:
    """One simple element; None is written as xsi:nil, booleans as true/false."""
    if value is None:
        return f"<{name} {_NIL}/>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = escape(str(value))
    return f"<{name}>{text}</{name}>" if text else f"<{name}/>"


def wrap(name: str, *parts: str) -> str:
    return f"<{name}>{''.join(parts)}</{name}>"


def result(*parts: str) -> str:
    return wrap("result", *parts)


def sync_status(lead_id: int, status: str, error: str | None = None) -> str:
    tail = _SYNCED.get(status) if error is None and type(lead_id) is int else None
    if tail is not None:  # a synced record (300 to a reply): what the line below would write
        return f"<syncStatus><leadId>{lead_id}{tail}"
    return wrap("syncStatus", el("leadId", lead_id), el("status", status), el("error", error))


_SYNCED = {status: f"</leadId><status>{status}</status><error {_NIL}/></syncStatus>"
           for status in ("CREATED", "UPDATED")}


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
