"""Reading replies: Faults by code (detail first, faultstring digits as fallback), typed
outputs, and hostile XML refused."""

import pytest

from runner.errors import ResponseError, SoapFaultError
from runner.model import HttpReply
from runner.operations import REGISTRY
from runner.soap import safexml
from runner.soap.response import read

ENV = ('<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope '
       'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
       'xmlns:ns1="http://www.marketo.com/mktows/" '
       'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><SOAP-ENV:Body>{}'
       '</SOAP-ENV:Body></SOAP-ENV:Envelope>')


def _reply(inner: str, status: int = 200) -> HttpReply:
    return HttpReply(status, "text/xml;charset=UTF-8", ENV.format(inner).encode())


def test_fault_code_comes_from_the_service_exception_detail():
    fault = ("<SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>20014 - "
             "Authentication failed</faultstring><detail><ns1:serviceException><name>"
             "mktServiceException</name><message>Authentication failed (20014)</message>"
             "<code>20014</code></ns1:serviceException></detail></SOAP-ENV:Fault>")
    with pytest.raises(SoapFaultError) as info:
        read(REGISTRY["syncLead"].soap.read, "successSyncLead", _reply(fault, 500))
    assert (info.value.code, info.value.message) == (20014, "Authentication failed (20014)")


def test_fault_without_detail_falls_back_to_the_faultstring_digits():
    fault = ("<SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>20103 - "
             "Lead not found</faultstring></SOAP-ENV:Fault>")
    with pytest.raises(SoapFaultError) as info:
        read(REGISTRY["getLead"].soap.read, "successGetLead", _reply(fault, 500))
    assert info.value.code == 20103


def test_sync_lead_outputs_are_typed():
    ok = ("<ns1:successSyncLead><result><leadId>1089965</leadId><syncStatus><leadId>1089965"
          "</leadId><status>UPDATED</status><error xsi:nil=\"true\"/></syncStatus>"
          "<leadRecord xsi:nil=\"true\"/></result></ns1:successSyncLead>")
    assert read(REGISTRY["syncLead"].soap.read, "successSyncLead", _reply(ok)) == {
        "leadId": 1089965, "status": "UPDATED", "error": None, "leadRecord": None}


def test_get_lead_returns_count_and_records():
    ok = ("<ns1:successGetLead><result><count>2</count><leadRecordList>"
          "<leadRecord><Id>1</Id><Email>a@x.com</Email><leadAttributeList><attribute>"
          "<attrName>FirstName</attrName><attrType>string</attrType><attrValue>A</attrValue>"
          "</attribute></leadAttributeList></leadRecord><leadRecord><Id>2</Id>"
          "<Email>a@x.com</Email></leadRecord></leadRecordList></result></ns1:successGetLead>")
    out = read(REGISTRY["getLead"].soap.read, "successGetLead", _reply(ok))
    assert out["count"] == 2 and out["leadId"] == 1
    assert out["leadRecordList"][0]["leadAttributeList"] == {"FirstName": "A"}


@pytest.mark.parametrize("body", [
    b"not xml at all",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    b"<root/>",
])
def test_unacceptable_replies_are_response_errors(body):
    with pytest.raises(ResponseError):
        read(REGISTRY["syncLead"].soap.read, "successSyncLead", HttpReply(200, "text/xml", body))


# Replies parsed by ElementTree's C parser (issue 19) must read exactly as through defusedxml,
# and anything that could carry a DTD must still go through defusedxml.
_PARSED_ALIKE = [
    ENV.format("<ns1:successSyncLead><result><leadId>1</leadId></result></ns1:successSyncLead>"),
    '<?xml version="1.0" encoding="UTF-8"?>\n\r\t <a x="1" y="&amp;&#233;"><b>t&lt;</b>tail'
    "<![CDATA[<!DOCTYPE x>]]><!-- c --><?pi x?><c/></a>",
    '<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9</a>',
    "<a><b></a>",  # not well-formed: the same message either way
    "<a>&undefined;</a>",
    '<?xml version="1.0"?><a/><!DOCTYPE x><b/>',
    "<a/>trailing",
    "<a xmlns:p='urn:x'><p:b p:c='1'/></a>",
]


def _defused(body: bytes) -> str:
    from xml.etree.ElementTree import tostring

    from defusedxml.ElementTree import DefusedXMLParser

    parser = DefusedXMLParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(body)
        return tostring(parser.close()).decode()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("text", _PARSED_ALIKE)
def test_the_fast_parser_reads_a_reply_exactly_as_defusedxml(text):
    from xml.etree.ElementTree import tostring

    from runner.soap import response

    body = text.encode("latin-1" if "ISO-8859-1" in text else "utf-8")
    assert safexml.no_dtd_possible(body)  # the fast path is the one tested
    try:
        mine = tostring(response.parse_xml(body)).decode()
    except ResponseError as exc:
        assert str(exc).startswith("the reply is not well-formed XML: ")
        mine = "ParseError: " + str(exc).removeprefix("the reply is not well-formed XML: ")
    assert mine == _defused(body)


@pytest.mark.parametrize("body", [
    b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
    b'<?xml version="1.0"?>\n<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
    b'<?xml version="1.0"?><!-- first --><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
    b'<?xml version="1.0"?><?pi?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
    b'\xef\xbb\xbf<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'.encode(
        "utf-16"),
])
def test_a_dtd_anywhere_it_may_stand_is_refused(body):
    from runner.soap import response

    assert not safexml.no_dtd_possible(body)  # defusedxml's path
    with pytest.raises(ResponseError, match=r"has a DTD \(<!DOCTYPE>\); refused"):
        response.parse_xml(body)


def test_a_dtd_the_prolog_check_missed_is_still_refused(monkeypatch):
    """Belt and braces: should the prolog check ever let a DTD through, the C parser's target
    refuses it at the doctype."""
    from runner.soap import response

    monkeypatch.setattr(safexml, "no_dtd_possible", lambda body: True)
    with pytest.raises(ResponseError, match=r"has a DTD"):
        response.parse_xml(b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>')
