"""Strict validates every request against the WSDL and faults an invalid one (20012);
lenient (the default) behaves like production Marketo did: unknown or miscased children are
ignored (and logged), misplaced ones read (mktows-reference.md §3.2, §4 items 1 and 12).
The same request is sent to both, to show what production would have done with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.soap.namespaces import MKTOWS
from tests.test_sandbox import NIL, Client, fault, lead_key, serving, success

SYNC = "<ns1:paramsSyncLead>{}</ns1:paramsSyncLead>"

# (case, body, what lenient mode answers: status and the resulting lead's fields)
CASES = [
    ("a miscased key is ignored: Marketo creates a new lead (markety PR #31)",
     SYNC.format("<leadRecord><id>1</id><leadAttributeList><attribute><attrName>FirstName"
                 "</attrName><attrValue>Twin</attrValue></attribute></leadAttributeList>"
                 "</leadRecord><returnLead>false</returnLead>"),
     ("CREATED", {"email": None, "attributes": {"FirstName": "Twin"}})),
    ("the doc tables' foreignSysPersonId is ignored (markety sync_lead_success.xml)",
     SYNC.format("<leadRecord><foreignSysPersonId>7</foreignSysPersonId><Email>f@example.com"
                 "</Email></leadRecord><returnLead>false</returnLead>"),
     ("CREATED", {"foreign_sys_person_id": None})),
    ("children out of the schema's order are read anyway",
     SYNC.format("<returnLead>false</returnLead><leadRecord><Email>o@example.com</Email>"
                 "</leadRecord>"),
     ("CREATED", {"email": "o@example.com"})),
    ("a default namespace (qualified children) is tolerated",
     f'<paramsSyncLead xmlns="{MKTOWS}"><leadRecord><Email>q@example.com</Email>'
     "</leadRecord><returnLead>false</returnLead></paramsSyncLead>",
     ("CREATED", {"email": "q@example.com"})),
    ("an unknown child is ignored",
     SYNC.format("<leadRecord><Email>u@example.com</Email><Pants>blue</Pants></leadRecord>"
                 "<returnLead>false</returnLead><extra/>"),
     ("CREATED", {"email": "u@example.com"})),
    ("a missing returnLead reads as false",
     SYNC.format("<leadRecord><Email>r@example.com</Email></leadRecord>"),
     ("CREATED", {"email": "r@example.com"})),
]


@pytest.mark.parametrize(("body", "lenient"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_strict_faults_what_lenient_lets_through(tmp_path: Path, body: str,
                                                 lenient: tuple[str, dict[str, object]]) -> None:
    with serving(tmp_path / "strict", strict=True) as client:
        details = fault(*client.post(client.envelope(body)))
        assert details["code"] == "20012"
        assert details["message"].startswith("Request not understood: ")
        assert client.leads() == []
    with serving(tmp_path / "lenient", strict=False) as client:
        result = success(*client.post(client.envelope(body)), "syncLead")
        status, fields = lenient
        assert result.findtext("syncStatus/status") == status
        (lead,) = client.leads()
        assert {k: lead[k] for k in fields} == fields


def test_a_record_without_a_key_is_20101_in_strict_mode_and_a_new_lead_in_lenient(
        tmp_path: Path) -> None:
    body = "<leadRecord/><returnLead>false</returnLead><marketoCookie>ck-1</marketoCookie>"
    with serving(tmp_path / "strict", strict=True) as client:
        assert client.fault_code("syncLead", body) == "20101"
    with serving(tmp_path / "lenient", strict=False) as client:
        first = client.call("syncLead", body)
        again = client.call("syncLead", body)  # found by its cookie now
        assert [first.findtext("syncStatus/status"), again.findtext("syncStatus/status")] == [
            "CREATED", "UPDATED"]
        assert client.leads()[0]["cookie"] == "ck-1"


def test_lenient_mode_still_reports_business_errors(tmp_path: Path) -> None:
    with serving(tmp_path, strict=False) as client:
        assert client.fault_code("getLead", lead_key("PHONE", "1")) == "20102"
        assert client.fault_code("requestCampaign", "<source>WEB</source><campaignId>1001"
                                 "</campaignId>") == "20110"
        assert client.fault_code("scheduleCampaign", "<programName>Welcome Program"
                                 "</programName><campaignName>Welcome Batch</campaignName>"
                                 "<campaignRunAt>soon</campaignRunAt>") == "20110"
        assert client.fault_code("getLead", "") == "20109"


@pytest.mark.parametrize(("children", "operation"), [
    (lead_key("PHONE", "1"), "getLead"),
    ("<source>WEB</source><campaignId>1001</campaignId>", "requestCampaign"),
    ("<programName>Welcome Program</programName><campaignName>Welcome Batch</campaignName>"
     "<campaignRunAt>soon</campaignRunAt>", "scheduleCampaign"),
])
def test_strict_mode_faults_bad_enumerations_and_dates_with_20012(
        sandbox: object, children: str, operation: str) -> None:
    client = Client(sandbox)  # type: ignore[arg-type]
    assert client.fault_code(operation, children) == "20012"


def test_an_authentication_header_with_extra_children_is_20014_only_in_strict(
        tmp_path: Path) -> None:
    for strict, expected in [(True, 500), (False, 200)]:
        with serving(tmp_path / str(strict), strict=strict) as client:
            xml = client.envelope("<ns1:paramsGetCampaignsForSource><source>MKTOWS</source>"
                                  "</ns1:paramsGetCampaignsForSource>")
            xml = xml.replace("</ns1:AuthenticationHeader>",
                              "<shoeSize>9</shoeSize></ns1:AuthenticationHeader>")
            assert client.post(xml)[0] == expected


@pytest.mark.parametrize("strict", [True, False])
def test_both_modes_answer_with_valid_success_types(tmp_path: Path, strict: bool) -> None:
    with serving(tmp_path, strict=strict) as client:
        result = client.sync("v@example.com", {"FirstName": "V"}, return_lead=True)
        assert result.find("leadRecord").get(NIL) is None  # type: ignore[union-attr]


def test_shape_errors_in_strict_mode(sandbox: object) -> None:
    client = Client(sandbox)  # type: ignore[arg-type]
    assert client.fault_code("deleteEverything", "") == "20019"
    xml = client.envelope("<ns1:paramsGetLead>" + lead_key("IDNUM", 1) + "</ns1:paramsGetLead>")
    assert fault(*client.post(xml, action="syncLead"))["code"] == "20012"  # SOAPAction differs
    assert fault(*client.post("<SOAP-ENV:Envelope"))["code"] == "20012"
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>')
    assert fault(*client.post(bomb))["code"] == "20012"
