"""The mktows sandbox over real HTTP on 127.0.0.1: auth, faults, operations, persistence.

Requests are built here from string templates and signed with `runner.soap.auth.sign`, so
these tests do not depend on the runner's envelope builder. Every success reply is checked
against the WSDL's `success<Op>` element.
"""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
import pytest

from runner.errors import UsageError
from runner.resources import wsdl_path
from runner.sandbox import SandboxInfo, open_store, running
from runner.sandbox.fixture import load_fixture
from runner.soap import xsd
from runner.soap.auth import sign, w3c_timestamp
from runner.soap.namespaces import MKTOWS, SOAP_ENV, XSI

ENVELOPES = Path(__file__).parent / "data" / "envelopes"
NIL = f"{{{XSI}}}nil"
PACIFIC = timezone(timedelta(hours=-7))  # Marketo's samples sign in America/Los_Angeles

ENVELOPE = Template(
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:ns1="{MKTOWS}" xmlns:xsi="{XSI}">'
    "<SOAP-ENV:Header><ns1:AuthenticationHeader><mktowsUserId>$user_id</mktowsUserId>"
    "<requestSignature>$signature</requestSignature>"
    "<requestTimestamp>$timestamp</requestTimestamp></ns1:AuthenticationHeader>$extra_header"
    "</SOAP-ENV:Header><SOAP-ENV:Body>$body</SOAP-ENV:Body></SOAP-ENV:Envelope>"
)


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxInfo]:
    with running(tmp_path / "db.sqlite") as info:
        yield info


def signed(template: Template, info: SandboxInfo, *, timestamp: str | None = None,
           key: str | None = None, user: str | None = None, **fields: str) -> str:
    stamp = timestamp or w3c_timestamp(datetime.now(UTC))
    user_id = user or info.user_id
    signature = sign(stamp, user_id, key or info.encryption_key)
    return template.substitute(user_id=escape(user_id), signature=signature,
                               timestamp=escape(stamp), **fields)


def envelope(info: SandboxInfo, body: str, *, extra_header: str = "", **auth: str) -> str:
    return signed(ENVELOPE, info, body=body, extra_header=extra_header, **auth)


def params(operation: str, children: str) -> str:
    name = f"params{operation[0].upper()}{operation[1:]}"
    return f"<ns1:{name}>{children}</ns1:{name}>"


def exchange(info: SandboxInfo, method: str, target: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    url = urlsplit(info.endpoint)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request(method, target, body, headers or {})
        reply = conn.getresponse()
        return reply.status, reply.getheader("Content-Type") or "", reply.read()
    finally:
        conn.close()


def post(info: SandboxInfo, xml: str, *, action: str | None = None,
         content_type: str = "text/xml; charset=UTF-8") -> tuple[int, bytes]:
    headers = {"Content-Type": content_type}
    if action:
        headers["SOAPAction"] = f'"{MKTOWS}{action}"'
    status, _, body = exchange(info, "POST", urlsplit(info.endpoint).path, xml.encode(), headers)
    return status, body


def body_element(reply: bytes) -> Element:
    root = SafeET.fromstring(reply)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    body = root.find(f"{{{SOAP_ENV}}}Body")
    assert body is not None
    return body[0]


def success(status: int, reply: bytes, operation: str) -> Element:
    """The `result` of a success reply, after checking it against the WSDL."""
    assert status == 200, reply.decode()
    element = f"success{operation[0].upper()}{operation[1:]}"
    found = body_element(reply)
    assert xsd.load(str(wsdl_path())).errors(element, found) == []
    result = found.find("result")
    assert result is not None
    return result


def call(info: SandboxInfo, operation: str, children: str, **kw: str) -> Element:
    status, reply = post(info, envelope(info, params(operation, children), **kw), action=operation)
    return success(status, reply, operation)


def fault(status: int, reply: bytes) -> dict[str, str]:
    assert status == 500, reply.decode()
    found = body_element(reply)
    assert found.tag == f"{{{SOAP_ENV}}}Fault"
    detail = found.find(f"detail/{{{MKTOWS}}}serviceException")
    assert detail is not None
    return {
        "faultcode": found.findtext("faultcode", ""),
        "faultstring": found.findtext("faultstring", ""),
        "name": detail.findtext("name", ""),
        "message": detail.findtext("message", ""),
        "code": detail.findtext("code", ""),
    }


def fault_code(info: SandboxInfo, operation: str, children: str, **kw: str) -> str:
    status, reply = post(info, envelope(info, params(operation, children), **kw))
    return fault(status, reply)["code"]


def lead_xml(email: str | None = None, attrs: dict[str, str] | None = None, *,
             lead_id: int | None = None, foreign: str | None = None) -> str:
    keys = "".join([
        f"<Id>{lead_id}</Id>" if lead_id is not None else "",
        f"<Email>{escape(email)}</Email>" if email else "",
        f"<ForeignSysPersonId>{foreign}</ForeignSysPersonId><ForeignSysType>CUSTOM"
        "</ForeignSysType>" if foreign else "",
    ])
    attributes = "".join(
        f"<attribute><attrName>{n}</attrName><attrValue>{escape(v)}</attrValue></attribute>"
        for n, v in (attrs or {}).items()
    )
    return f"<leadRecord>{keys}<leadAttributeList>{attributes}</leadAttributeList></leadRecord>"


def sync(info: SandboxInfo, email: str | None = None, attrs: dict[str, str] | None = None, *,
         return_lead: bool = False, cookie: str | None = None, lead_id: int | None = None,
         foreign: str | None = None) -> Element:
    children = lead_xml(email, attrs, lead_id=lead_id, foreign=foreign)
    children += f"<returnLead>{str(return_lead).lower()}</returnLead>"
    if cookie:
        children += f"<marketoCookie>{escape(cookie)}</marketoCookie>"
    return call(info, "syncLead", children)


def lead_key(key_type: str, value: str | int) -> str:
    return f"<leadKey><keyType>{key_type}</keyType><keyValue>{value}</keyValue></leadKey>"


def leads(info: SandboxInfo) -> list[dict[str, Any]]:
    with open_store(info.db_path) as store:
        return store.leads()


def runs(info: SandboxInfo) -> list[dict[str, Any]]:
    with open_store(info.db_path) as store:
        return store.campaign_runs()


def request_count(info: SandboxInfo) -> int:
    with open_store(info.db_path) as store:
        return store.request_count()


def sample(info: SandboxInfo, name: str) -> str:
    return signed(Template((ENVELOPES / name).read_text(encoding="utf-8")), info)


# -- the documented samples ------------------------------------------------------------


def test_the_sample_sync_lead_envelope_creates_a_lead(sandbox: SandboxInfo) -> None:
    result = success(*post(sandbox, sample(sandbox, "sync_lead_by_email.xml")), "syncLead")
    assert result.findtext("syncStatus/status") == "CREATED"
    assert result.find("leadRecord").get(NIL) == "true"  # type: ignore[union-attr]
    with open_store(sandbox.db_path) as store:
        (lead,) = store.leads()
    assert lead["email"] == "ada.lovelace@example.com"
    assert lead["attributes"] == {"FirstName": "Ada", "LastName": "Lovelace",
                                  "Company": "Analytical Engines & Co"}
    assert lead["workspace"] == "Default"


def test_the_sample_request_campaign_envelope_records_a_run(sandbox: SandboxInfo) -> None:
    success(*post(sandbox, sample(sandbox, "sync_lead_by_email.xml")), "syncLead")
    result = success(*post(sandbox, sample(sandbox, "request_campaign_by_id.xml"),
                           action="requestCampaign"), "requestCampaign")
    assert result.findtext("success") == "true"
    with open_store(sandbox.db_path) as store:
        (run,) = store.campaign_runs()
        lead_id = store.leads()[0]["id"]
    assert run["kind"] == "request"
    assert (run["campaign_id"], run["lead_ids"], run["ignored_keys"]) == (1001, [lead_id], 0)


# -- authentication -----------------------------------------------------------------------


def test_a_wrong_encryption_key_is_an_authentication_fault(sandbox: SandboxInfo) -> None:
    status, reply = post(sandbox, envelope(sandbox, params("getLead", lead_key("IDNUM", 1)),
                                           key="not-the-key"))
    assert fault(status, reply) == {
        "faultcode": "SOAP-ENV:Client", "faultstring": "20014 - Authentication failed",
        "name": "mktServiceException", "message": "Authentication failed (20014)",
        "code": "20014",
    }


def test_an_unknown_user_is_an_authentication_fault(sandbox: SandboxInfo) -> None:
    code = fault_code(sandbox, "getLead", lead_key("IDNUM", 1), user="somebody", key="k")
    assert code == "20014"


def test_a_request_without_authentication_header_is_fault_20014(sandbox: SandboxInfo) -> None:
    xml = (f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:ns1="{MKTOWS}">'
           f"<SOAP-ENV:Body>{params('getLead', lead_key('IDNUM', 1))}</SOAP-ENV:Body>"
           "</SOAP-ENV:Envelope>")
    assert fault(*post(sandbox, xml))["code"] == "20014"


@pytest.mark.parametrize("timestamp", [
    w3c_timestamp(datetime.now(UTC) - timedelta(hours=1)),
    w3c_timestamp(datetime.now(PACIFIC) + timedelta(minutes=20)),
    "2026-05-04T09:30:00",  # no UTC offset
    "yesterday",
])
def test_a_stale_or_unreadable_timestamp_is_fault_20016(sandbox: SandboxInfo,
                                                         timestamp: str) -> None:
    status, reply = post(sandbox, envelope(sandbox, params("getLead", lead_key("IDNUM", 1)),
                                           timestamp=timestamp))
    assert fault(status, reply)["faultstring"] == "20016 - Request Expired"


def test_a_timestamp_in_another_offset_within_the_window_is_accepted(
        sandbox: SandboxInfo) -> None:
    pacific = datetime.now(PACIFIC) - timedelta(minutes=5)
    sync(sandbox, "tz@example.com")
    result = call(sandbox, "getLead", lead_key("EMAIL", "tz@example.com"),
                  timestamp=w3c_timestamp(pacific))
    assert result.findtext("count") == "1"


def test_the_timestamp_window_is_configurable(tmp_path: Path) -> None:
    with running(tmp_path / "db.sqlite", window=timedelta(seconds=30)) as info:
        old = w3c_timestamp(datetime.now(UTC) - timedelta(minutes=2))
        assert fault_code(info, "getLead", lead_key("IDNUM", 1), timestamp=old) == "20016"


# -- request shape ------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    # returnLead before leadRecord: XSD sequences are ordered
    "<ns1:paramsSyncLead><returnLead>false</returnLead><leadRecord><Email>a@example.com"
    "</Email></leadRecord></ns1:paramsSyncLead>",
    # a default namespace qualifies the children, which the schema forbids
    f'<paramsSyncLead xmlns="{MKTOWS}"><leadRecord><Email>a@example.com</Email></leadRecord>'
    "<returnLead>false</returnLead></paramsSyncLead>",
    # returnLead is required
    "<ns1:paramsSyncLead><leadRecord><Email>a@example.com</Email></leadRecord>"
    "</ns1:paramsSyncLead>",
    # Marketo's field tables spell it foreignSysPersonId; the WSDL does not
    "<ns1:paramsSyncLead><leadRecord><foreignSysPersonId>7</foreignSysPersonId></leadRecord>"
    "<returnLead>false</returnLead></ns1:paramsSyncLead>",
])
def test_a_body_that_breaks_the_schema_is_fault_20012(sandbox: SandboxInfo, body: str) -> None:
    status, reply = post(sandbox, envelope(sandbox, body))
    details = fault(status, reply)
    assert details["code"] == "20012"
    assert details["message"].startswith("Request not understood: ")
    assert leads(sandbox) == []


def test_lenient_mode_accepts_what_the_schema_would_reject(tmp_path: Path) -> None:
    body = (f'<paramsSyncLead xmlns="{MKTOWS}"><leadRecord><Email>a@example.com</Email>'
            "</leadRecord><returnLead>false</returnLead></paramsSyncLead>")
    with running(tmp_path / "db.sqlite", strict=False) as info:
        status, reply = post(info, envelope(info, body))
        assert success(status, reply, "syncLead").findtext("syncStatus/status") == "CREATED"


def test_an_unknown_operation_is_fault_20019(sandbox: SandboxInfo) -> None:
    assert fault_code(sandbox, "deleteEverything", "") == "20019"


def test_a_soap_action_for_another_operation_is_fault_20012(sandbox: SandboxInfo) -> None:
    xml = envelope(sandbox, params("getLead", lead_key("IDNUM", 1)))
    assert fault(*post(sandbox, xml, action="syncLead"))["code"] == "20012"


def test_xml_that_is_not_well_formed_is_fault_20012(sandbox: SandboxInfo) -> None:
    assert fault(*post(sandbox, "<SOAP-ENV:Envelope"))["code"] == "20012"


def test_an_xml_entity_bomb_is_refused_without_expanding_it(sandbox: SandboxInfo) -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>')
    assert fault(*post(sandbox, bomb))["code"] == "20012"


# -- syncLead -----------------------------------------------------------------------------


def test_sync_lead_creates_then_updates_the_same_lead(sandbox: SandboxInfo) -> None:
    first = sync(sandbox, "grace@example.com", {"FirstName": "Grace"})
    second = sync(sandbox, "grace@example.com", {"LastName": "Hopper"})
    assert first.findtext("syncStatus/status") == "CREATED"
    assert second.findtext("syncStatus/status") == "UPDATED"
    lead_id = first.findtext("leadId")
    assert second.findtext("leadId") == second.findtext("syncStatus/leadId") == lead_id
    with open_store(sandbox.db_path) as store:
        (lead,) = store.leads()
    assert lead["attributes"] == {"FirstName": "Grace", "LastName": "Hopper"}


def test_sync_lead_returns_the_typed_lead_record_when_asked(sandbox: SandboxInfo) -> None:
    result = sync(sandbox, "alan@example.com", {"FirstName": "Alan", "Website":
                  "https://example.com", "NumberOfEmployees": "12", "Title": ""},
                  return_lead=True)
    record = result.find("leadRecord")
    assert record is not None
    assert record.findtext("Id") == result.findtext("leadId")
    assert record.findtext("Email") == "alan@example.com"
    assert record.find("ForeignSysPersonId").get(NIL) == "true"  # type: ignore[union-attr]
    assert record.find("ForeignSysType").get(NIL) == "true"  # type: ignore[union-attr]
    attributes = {a.findtext("attrName"): (a.findtext("attrType"), a.findtext("attrValue"))
                  for a in record.iterfind("leadAttributeList/attribute")}
    assert attributes == {"FirstName": ("string", "Alan"), "Website": ("url",
                          "https://example.com"), "NumberOfEmployees": ("integer", "12")}


def test_an_unknown_attribute_is_fault_20105_and_nothing_is_stored(
        sandbox: SandboxInfo) -> None:
    xml = envelope(sandbox, params("syncLead", lead_xml("x@example.com", {"pants": "blue"})
                                   + "<returnLead>false</returnLead>"))
    assert fault(*post(sandbox, xml)) == {
        "faultcode": "SOAP-ENV:Client", "faultstring": "20105 - Unknown lead field",
        "name": "mktServiceException", "code": "20105",
        "message": "syncLead operation failed: unknown fields for import: pants (20105)",
    }
    assert leads(sandbox) == []


def test_sync_lead_by_an_id_that_does_not_exist_is_fault_20103(sandbox: SandboxInfo) -> None:
    children = lead_xml(lead_id=4242) + "<returnLead>false</returnLead>"
    assert fault_code(sandbox, "syncLead", children) == "20103"


def test_sync_lead_by_id_moves_the_foreign_id_to_that_lead(sandbox: SandboxInfo) -> None:
    holder = int(sync(sandbox, "a@example.com", foreign="F1").findtext("leadId") or 0)
    other = int(sync(sandbox, "b@example.com").findtext("leadId") or 0)
    result = sync(sandbox, lead_id=other, foreign="F1")
    assert result.findtext("leadId") == str(other)
    with open_store(sandbox.db_path) as store:
        assert store.lead(other)["foreign_sys_person_id"] == "F1"  # type: ignore[index]
        assert store.lead(holder)["foreign_sys_person_id"] is None  # type: ignore[index]


def test_sync_lead_by_foreign_id_updates_the_email(sandbox: SandboxInfo) -> None:
    lead_id = sync(sandbox, "old@example.com", foreign="F2").findtext("leadId")
    result = sync(sandbox, "new@example.com", foreign="F2")
    assert result.findtext("leadId") == lead_id
    assert result.findtext("syncStatus/status") == "UPDATED"
    assert [x["email"] for x in leads(sandbox)] == ["new@example.com"]


def test_an_anonymous_lead_found_by_cookie_becomes_known(sandbox: SandboxInfo) -> None:
    anonymous = sync(sandbox, cookie="id:123-ABC-456&token:_mch-example.com-1")
    known = sync(sandbox, "known@example.com", cookie="id:123-ABC-456&token:_mch-example.com-1")
    assert known.findtext("leadId") == anonymous.findtext("leadId")
    assert known.findtext("syncStatus/status") == "UPDATED"


def test_an_unknown_target_workspace_is_a_bad_parameter(sandbox: SandboxInfo) -> None:
    header = ("<ns1:MktowsContextHeader><targetWorkspace>Nowhere</targetWorkspace>"
              "</ns1:MktowsContextHeader>")
    children = lead_xml("w@example.com") + "<returnLead>false</returnLead>"
    assert fault_code(sandbox, "syncLead", children, extra_header=header) == "20110"


def test_leads_survive_a_restart_with_the_same_database(tmp_path: Path) -> None:
    with running(tmp_path / "db.sqlite") as info:
        lead_id = sync(info, "persist@example.com", {"City": "Lyon"}).findtext("leadId")
    with running(tmp_path / "db.sqlite") as info:
        result = call(info, "getLead", lead_key("IDNUM", lead_id or ""))
        again = sync(info, "persist@example.com")
    assert result.findtext("leadRecordList/leadRecord/Email") == "persist@example.com"
    assert again.findtext("syncStatus/status") == "UPDATED"
    assert again.findtext("leadId") == lead_id


def test_the_database_directory_is_created_when_missing(tmp_path: Path) -> None:
    with running(tmp_path / ".mktows" / "sandbox.db") as info:
        sync(info, "dir@example.com")
    assert (tmp_path / ".mktows" / "sandbox.db").is_file()


# -- syncMultipleLeads --------------------------------------------------------------------


def test_sync_multiple_leads_dedups_on_email_and_keeps_input_order(
        sandbox: SandboxInfo) -> None:
    existing = sync(sandbox, "dup@example.com").findtext("leadId")
    records = lead_xml("new1@example.com") + lead_xml("dup@example.com") + lead_xml(lead_id=999)
    result = call(sandbox, "syncMultipleLeads", f"<leadRecordList>{records}</leadRecordList>")
    statuses = [(s.findtext("leadId"), s.findtext("status"))
                for s in result.iterfind("syncStatusList/syncStatus")]
    assert [s for _, s in statuses] == ["CREATED", "UPDATED", "FAILED"]
    assert statuses[1][0] == existing


def test_sync_multiple_leads_without_dedup_creates_duplicates(sandbox: SandboxInfo) -> None:
    sync(sandbox, "twin@example.com")
    call(sandbox, "syncMultipleLeads", f"<leadRecordList>{lead_xml('twin@example.com')}"
         "</leadRecordList><dedupEnabled>false</dedupEnabled>")
    assert len(leads(sandbox)) == 2


def test_more_than_300_records_is_fault_20110(sandbox: SandboxInfo) -> None:
    records = "".join(lead_xml(f"l{i}@example.com") for i in range(301))
    code = fault_code(sandbox, "syncMultipleLeads", f"<leadRecordList>{records}</leadRecordList>")
    assert code == "20110"


# -- getLead ------------------------------------------------------------------------------


def test_get_lead_for_an_unknown_email_is_fault_20103_with_marketos_message(
        sandbox: SandboxInfo) -> None:
    status, reply = post(sandbox, envelope(sandbox, params(
        "getLead", lead_key("EMAIL", "pants@example.com"))))
    details = fault(status, reply)
    assert details["faultstring"] == "20103 - Lead not found"
    assert details["message"] == "No lead found with EMAIL = pants@example.com (20103)"


def test_get_lead_by_email_returns_every_lead_with_that_email(sandbox: SandboxInfo) -> None:
    call(sandbox, "syncMultipleLeads", "<leadRecordList>" + lead_xml("same@example.com") * 2
         + "</leadRecordList><dedupEnabled>false</dedupEnabled>")
    result = call(sandbox, "getLead", lead_key("EMAIL", "SAME@example.com"))
    assert result.findtext("count") == "2"
    assert len(result.findall("leadRecordList/leadRecord")) == 2


# -- campaigns ----------------------------------------------------------------------------


@pytest.mark.parametrize("children", [
    "<source>MKTOWS</source><campaignId>9999</campaignId>",
    "<source>MKTOWS</source><programName>Welcome Program</programName>"
    "<campaignName>No Such Campaign</campaignName>",
    "<source>MKTOWS</source><campaignId>1002</campaignId>",  # a batch campaign
    "<source>SALES</source><campaignId>1001</campaignId>",  # not offered to Sales Insight
])
def test_a_campaign_that_cannot_be_requested_is_fault_20113(sandbox: SandboxInfo,
                                                            children: str) -> None:
    assert fault_code(sandbox, "requestCampaign", children) == "20113"


@pytest.mark.parametrize("children", [
    "<source>MKTOWS</source><campaignId>1001</campaignId>"
    "<campaignName>Welcome Email</campaignName>",
    "<source>MKTOWS</source>",
    "<source>MKTOWS</source><programName>Welcome Program</programName>",
    "<source>MKTOWS</source><campaignId>1001</campaignId><programTokenList/>",
])
def test_request_campaign_rejects_any_other_parameter_set_with_20110(
        sandbox: SandboxInfo, children: str) -> None:
    assert fault_code(sandbox, "requestCampaign", children) == "20110"
    assert runs(sandbox) == []


def test_request_campaign_by_name_records_tokens_and_leads(sandbox: SandboxInfo) -> None:
    lead_id = int(sync(sandbox, "t@example.com").findtext("leadId") or 0)
    call(sandbox, "requestCampaign",
         f"<source>MKTOWS</source><leadList>{lead_key('IDNUM', lead_id)}"
         f"{lead_key('EMAIL', 't@example.com')}{lead_key('IDNUM', 777)}</leadList>"
         "<programName>Webinar 2026</programName><campaignName>Registration Confirmation"
         "</campaignName><programTokenList><attrib><name>{{my.webinarDate}}</name>"
         "<value>2026-07-01</value></attrib></programTokenList>")
    (run,) = runs(sandbox)
    assert (run["campaign_id"], run["source"], run["lead_ids"]) == (1003, "MKTOWS", [lead_id])
    assert run["tokens"] == {"{{my.webinarDate}}": "2026-07-01"}


def test_request_campaign_uses_only_the_first_100_lead_keys(sandbox: SandboxInfo) -> None:
    records = "".join(lead_xml(f"k{i}@example.com") for i in range(105))
    result = call(sandbox, "syncMultipleLeads", f"<leadRecordList>{records}</leadRecordList>")
    ids = [s.findtext("leadId") for s in result.iterfind("syncStatusList/syncStatus")]
    keys = "".join(lead_key("IDNUM", i or "") for i in ids)
    call(sandbox, "requestCampaign",
         f"<source>MKTOWS</source><campaignId>1001</campaignId><leadList>{keys}</leadList>")
    (run,) = runs(sandbox)
    assert run["lead_ids"] == [int(i or 0) for i in ids[:100]]
    assert run["ignored_keys"] == 5


def test_schedule_campaign_records_when_tokens_and_clone(sandbox: SandboxInfo) -> None:
    result = call(sandbox, "scheduleCampaign",
                  "<programName>Welcome Program</programName>"
                  "<cloneToProgramName>Welcome Program (copy)</cloneToProgramName>"
                  "<campaignName>Welcome Batch</campaignName>"
                  "<campaignRunAt>2026-06-01T09:00:00-05:00</campaignRunAt>"
                  "<programTokenList><attrib><name>{{my.message}}</name><value>Hi &amp; bye"
                  "</value></attrib></programTokenList>")
    assert result.findtext("success") == "true"
    (run,) = runs(sandbox)
    assert run["kind"] == "schedule"
    assert (run["campaign_id"], run["run_at"]) == (1002, "2026-06-01T09:00:00-05:00")
    assert run["clone_to_program_name"] == "Welcome Program (copy)"
    assert run["tokens"] == {"{{my.message}}": "Hi & bye"}


def test_schedule_campaign_without_run_time_runs_now(sandbox: SandboxInfo) -> None:
    call(sandbox, "scheduleCampaign", "<programName>Webinar 2026</programName>"
         "<campaignName>Reminder Blast</campaignName>")
    (run,) = runs(sandbox)
    assert (run["campaign_id"], run["run_at"], run["tokens"]) == (1004, None, {})


def test_schedule_campaign_needs_a_batch_campaign(sandbox: SandboxInfo) -> None:
    children = "<programName>Welcome Program</programName><campaignName>Welcome Email</campaignName>"
    assert fault_code(sandbox, "scheduleCampaign", children) == "20113"


@pytest.mark.parametrize(("children", "expected"), [
    ("<source>MKTOWS</source>", ["Welcome Email", "Registration Confirmation"]),
    ("<source>SALES</source>", ["Registration Confirmation"]),
    ("<source>MKTOWS</source><name>welcome</name>", ["Welcome Email"]),
    ("<source>MKTOWS</source><name>Welcome</name><exactName>true</exactName>", []),
    ("<source>MKTOWS</source><name>Welcome Email</name><exactName>true</exactName>",
     ["Welcome Email"]),
])
def test_get_campaigns_for_source_lists_requestable_trigger_campaigns(
        sandbox: SandboxInfo, children: str, expected: list[str]) -> None:
    result = call(sandbox, "getCampaignsForSource", children)
    names = [r.findtext("name") for r in result.iterfind("campaignRecordList/campaignRecord")]
    assert names == expected
    assert result.findtext("returnCount") == str(len(expected))


def test_a_campaign_without_description_has_an_empty_description(sandbox: SandboxInfo) -> None:
    result = call(sandbox, "getCampaignsForSource", "<source>SALES</source>")
    record = result.find("campaignRecordList/campaignRecord")
    assert record is not None
    assert record.find("description") is not None
    assert record.findtext("description") == ""


# -- HTTP ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["WSDL", "wsdl", "Wsdl="])
def test_the_wsdl_is_served_with_the_sandbox_own_address(sandbox: SandboxInfo,
                                                         query: str) -> None:
    status, content_type, body = exchange(sandbox, "GET", f"{urlsplit(sandbox.endpoint).path}?{query}")
    assert (status, content_type) == (200, "text/xml;charset=UTF-8")
    address = SafeET.fromstring(body).find(
        ".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address is not None
    assert address.get("location") == sandbox.endpoint


@pytest.mark.parametrize(("method", "target", "content_type", "expected"), [
    ("GET", "/", None, 404),
    ("GET", "/soap/mktows/3_1", None, 404),
    ("POST", "/soap/other/3_1", "text/xml", 404),
    ("PUT", "/soap/mktows/3_1", "text/xml", 405),
    ("DELETE", "/soap/mktows/3_1", None, 405),
    ("POST", "/soap/mktows/3_1", "application/soap+xml", 415),
    ("POST", "/soap/mktows/3_1", None, 415),
])
def test_requests_outside_the_soap_endpoint_never_reach_the_service(
        sandbox: SandboxInfo, method: str, target: str, content_type: str | None,
        expected: int) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    xml = envelope(sandbox, params("getLead", lead_key("IDNUM", 1))).encode()
    status, _, _ = exchange(sandbox, method, target, xml if method != "GET" else b"", headers)
    assert status == expected
    assert request_count(sandbox) == 0


def test_every_soap_request_is_counted_with_its_fault_code(sandbox: SandboxInfo) -> None:
    sync(sandbox, "count@example.com")
    fault_code(sandbox, "getLead", lead_key("EMAIL", "nobody@example.com"))
    with open_store(sandbox.db_path) as store:
        assert store.request_count() == 2
        assert [(r["operation"], r["fault_code"]) for r in store.requests()] == [
            ("syncLead", None), ("getLead", 20103)]


def test_one_keep_alive_connection_carries_several_requests(sandbox: SandboxInfo) -> None:
    url = urlsplit(sandbox.endpoint)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        for _ in range(3):
            xml = envelope(sandbox, params("getCampaignsForSource", "<source>MKTOWS</source>"))
            conn.request("POST", url.path, xml.encode(), {"Content-Type": "text/xml"})
            reply = conn.getresponse()
            success(reply.status, reply.read(), "getCampaignsForSource")
            assert reply.getheader("Connection") != "close"
    finally:
        conn.close()


def test_concurrent_requests_are_all_stored(sandbox: SandboxInfo) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: sync(sandbox, f"c{i}@example.com"), range(40)))
    assert len({r.findtext("leadId") for r in results}) == 40
    with open_store(sandbox.db_path) as store:
        assert len(store.leads()) == 40
        assert store.request_count() == 40


def test_reset_forgets_leads_runs_and_requests(sandbox: SandboxInfo) -> None:
    sync(sandbox, "gone@example.com")
    with open_store(sandbox.db_path) as store:
        store.reset()
        assert (store.leads(), store.campaign_runs(), store.request_count()) == ([], [], 0)
    assert sync(sandbox, "again@example.com").findtext("leadId") == "1"


def test_serve_blocks_until_interrupted_then_returns(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from runner.sandbox import serve\n"
        "serve(Path(sys.argv[1]), port=0, on_ready=lambda i: print(i.endpoint, flush=True))\n"
        "print('stopped', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "db.sqlite")],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        endpoint = proc.stdout.readline().strip()
        info = SandboxInfo(endpoint, "mktows-sandbox", "", tmp_path / "db.sqlite")
        status, _, _ = exchange(info, "GET", f"{urlsplit(endpoint).path}?WSDL")
        assert status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == "stopped\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


# -- fixture ------------------------------------------------------------------------------


def test_the_default_fixture_provides_the_reported_user(sandbox: SandboxInfo) -> None:
    assert sandbox.user_id == "mktows-sandbox"
    assert len(sandbox.encryption_key) == 40
    assert sandbox.endpoint.startswith("http://127.0.0.1:")
    assert sandbox.endpoint.endswith("/soap/mktows/3_1")


@pytest.mark.parametrize(("text", "problem"), [
    ("users: []\nfields: []\nprograms: []\n", "users: must be a non-empty list"),
    ("[unclosed", "not valid YAML"),
    ("users: [{userId: u, encryptionKey: k}]\nfields: [{name: A, type: colour}]\n"
     "programs: []\n", "fields[0].type: unknown field type 'colour'"),
    ("users: [{userId: u, encryptionKey: k}]\nfields: [{name: A}]\nprograms:\n"
     "  - {name: P, campaigns: [{id: 1, name: C, type: batch}, {id: 1, name: D, type: batch}]}\n",
     "duplicate campaign id 1"),
    ("users: [{userId: u, encryptionKey: k, extra: 1}]\nfields: [{name: A}]\nprograms: []\n",
     "users[0]: unknown key(s) extra"),
])
def test_a_bad_fixture_is_a_usage_error_naming_the_file(tmp_path: Path, text: str,
                                                        problem: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_fixture(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)


def test_a_custom_fixture_replaces_users_and_campaigns(tmp_path: Path) -> None:
    path = tmp_path / "fixture.yml"
    path.write_text(
        "users: [{userId: me, encryptionKey: secret}]\nfields: [{name: FirstName}]\n"
        "programs:\n  - name: Solo\n    campaigns: [{id: 7, name: Go, type: trigger}]\n",
        encoding="utf-8")
    with running(tmp_path / "db.sqlite", fixture=path) as info:
        assert (info.user_id, info.encryption_key) == ("me", "secret")
        result = call(info, "getCampaignsForSource", "<source>MKTOWS</source>")
    assert result.findtext("campaignRecordList/campaignRecord/id") == "7"
