"""Reading replies: Faults by code (detail first, faultstring digits as fallback), typed
outputs, and hostile XML refused."""

import pytest

from runner.errors import ResponseError, SoapFaultError
from runner.model import HttpReply
from runner.operations import REGISTRY
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
