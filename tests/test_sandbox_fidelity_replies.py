"""Replies as Marketo wrote them, and what the sandbox answers where it does not emulate
Marketo (docs/sandbox.md "Operations served" and "Where the sandbox differs from Marketo")."""

from __future__ import annotations

import re
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from runner.sandbox.faults import SANDBOX_NS
from runner.sandbox.ops import HANDLERS
from runner.sandbox.versions import MARKETO_OPERATIONS
from runner.soap.namespaces import MKTOWS, SOAP_ENV
from runner.soap.response import body_child, fault
from tests.test_sandbox_fidelity import SAMPLES, box, fault_code, params, result

DOCS = Path(__file__).resolve().parent.parent / "docs" / "sandbox.md"
NOT_EMULATED = sorted(MARKETO_OPERATIONS - set(HANDLERS))


def squeeze(xml: bytes) -> bytes:
    """The docs print their samples indented; Marketo's bytes have no space between tags."""
    return re.sub(rb">\s+<", b"><", xml.strip())


def declarations(reply: bytes) -> list[str]:
    envelope = re.search(rb"<SOAP-ENV:Envelope([^>]*)>", reply)
    assert envelope is not None
    return [m.decode() for m in re.findall(rb"xmlns:([\w-]+)=", envelope[1])]


@pytest.mark.parametrize(("operation", "children", "sample"), [
    ("requestCampaign", "<source>MKTOWS</source><campaignId>1</campaignId><leadList><leadKey>"
     "<keyType>IDNUM</keyType><keyValue>1</keyValue></leadKey></leadList>",
     "request_campaign_docs_response.xml"),
    ("scheduleCampaign", "<programName>Trav-Demo-Program</programName><campaignName>Batch"
     " Campaign Example</campaignName>", "schedule_campaign_docs_response.xml"),
])
@pytest.mark.parametrize("version", ["2_2", "3_1"])
def test_campaign_success_replies_are_marketos_bytes(tmp_path: Path, operation: str,
                                                     children: str, sample: str,
                                                     version: str) -> None:
    with box(tmp_path) as raw:
        reply = raw.post(raw.envelope(params(operation, children)), version, action=operation)
        result(reply, operation)
    marketo = (SAMPLES / sample).read_bytes()
    assert squeeze(reply.content) == squeeze(marketo)
    assert reply.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:')
    assert declarations(reply.content) == ["SOAP-ENV", "ns1"]  # no xsi: nothing is nil


def test_replies_that_carry_a_nil_still_declare_xsi(tmp_path: Path) -> None:
    """Marketo's syncLead reply declares SOAP-ENV, xsi and ns1 (reference §8 item 1): its
    `error` and `leadRecord` are nil."""
    with box(tmp_path) as raw:
        children = "<leadRecord><Email>x@example.com</Email></leadRecord><returnLead>false" \
                   "</returnLead>"
        reply = raw.post(raw.envelope(params("syncLead", children)))
        result(reply, "syncLead")
        assert sorted(declarations(reply.content)) == ["SOAP-ENV", "ns1", "xsi"]
        empty = raw.post(raw.envelope(params("getCampaignsForSource",
                                             "<source>MKTOWS</source><name>none</name>")))
        assert result(empty, "getCampaignsForSource").findtext("returnCount") == "0"
        assert "xsi" in declarations(empty.content)  # a nil campaignRecordList


@pytest.mark.parametrize("operation", ["getLeadActivity", "getMObjects", "mergeLeads"])
@pytest.mark.parametrize("version", ["2_2", "3_1"])
def test_a_marketo_operation_the_sandbox_does_not_emulate(tmp_path: Path, operation: str,
                                                          version: str) -> None:
    """Marketo served these; its 20019 ("not in the WSDL") would be a lie. The sandbox says
    it does not emulate them, with no Marketo code, and names what it answers."""
    assert operation in NOT_EMULATED
    with box(tmp_path) as raw:
        reply = raw.post(raw.envelope(params(operation, "")), version)
        wsdl = SafeET.fromstring(raw.get(f"/soap/mktows/{version}?WSDL").content)
        logged = raw.last()
    assert reply.status_code == 500
    found = body_child(SafeET.fromstring(reply.content))
    assert found.tag == f"{{{SOAP_ENV}}}Fault"
    assert found.findtext("faultcode") == "SOAP-ENV:Client"
    assert (found.findtext("faultstring") or "").startswith(
        f"Not emulated by the mktows sandbox: {operation} (API {version} answers ")
    assert found.find(f".//{{{MKTOWS}}}serviceException") is None
    detail = found.find(f"detail/{{{SANDBOX_NS}}}notEmulated")
    assert detail is not None
    assert (detail.findtext("operation"), detail.findtext("version")) == (operation, version)
    served = [op.text for op in detail.iterfind("served/operation")]
    in_wsdl = sorted(op.get("name", "") for op in wsdl.iterfind(
        "{http://schemas.xmlsoap.org/wsdl/}binding/{http://schemas.xmlsoap.org/wsdl/}operation"))
    assert served == in_wsdl == sorted(HANDLERS)
    assert fault(found, 500).code is None  # the runner reads no Marketo code into it
    assert (logged["fault_code"], logged["applied"], logged["detail"]) == (
        None, False, found.findtext("faultstring"))


def test_an_operation_marketo_never_had_is_still_20019(tmp_path: Path) -> None:
    with box(tmp_path) as raw:
        assert fault_code(raw.post(raw.envelope(params("deleteEverything", "")))) == "20019"
        assert fault_code(raw.post(raw.envelope(params("syncLeads", "")))) == "20019"


def test_the_docs_list_the_served_and_the_unemulated_operations() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Operations served", 1)[1].split("\n## ", 1)[0]
    served, _, rest = section.partition("Not emulated")
    assert all(f"`{op}`" in served for op in HANDLERS), "docs/sandbox.md: served operations"
    assert all(f"`{op}`" in rest for op in NOT_EMULATED), "docs/sandbox.md: not emulated"
    assert "## Where the sandbox differs from Marketo" in text
