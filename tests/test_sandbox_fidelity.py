"""The default sandbox behaves like production Marketo: it accepts what production accepted,
applies what it applied, ignores what it ignored, and logs every ignored element, so a test
can see what production would have silently dropped (docs/sandbox.md "Strict and lenient").

Requests are raw XML as Marketo's own samples and clients wrote them (tests/data/fidelity),
posted with `requests` to 127.0.0.1 and signed here with hmac. The shared helpers of the
`test_sandbox_fidelity*.py` files live in this module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from string import Template
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import pytest
import requests

from runner.sandbox import SandboxInfo, open_store, running
from runner.soap.namespaces import MKTOWS, SOAP_ENV, XSI

DATA = Path(__file__).parent / "data"
SAMPLES = DATA / "fidelity"
FIDELITY = DATA / "sandbox" / "fidelity.yml"
NIL = f"{{{XSI}}}nil"
PACIFIC = timezone(timedelta(hours=-7))  # the docs' samples sign Pacific time

ENVELOPE = Template(
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:ns1="{MKTOWS}">'
    "<SOAP-ENV:Header><ns1:AuthenticationHeader><mktowsUserId>$user_id</mktowsUserId>"
    "<requestSignature>$signature</requestSignature><requestTimestamp>$timestamp"
    "</requestTimestamp>$auth_extra</ns1:AuthenticationHeader>$header_extra</SOAP-ENV:Header>"
    "<SOAP-ENV:Body>$body</SOAP-ENV:Body></SOAP-ENV:Envelope>"
)


class Raw:
    """Raw SOAP over HTTP to one sandbox, the way Marketo's samples talk to Marketo."""

    def __init__(self, info: SandboxInfo) -> None:
        self.info = info
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy from the environment: 127.0.0.1 only

    def close(self) -> None:
        self.http.close()

    def sign(self, template: str, **values: str) -> str:
        """`template` with `$user_id`, `$signature` and `$timestamp` filled in (and `values`)."""
        stamp = datetime.now(PACIFIC).replace(microsecond=0).isoformat()
        signature = hmac.new(self.info.encryption_key.encode(),
                             (stamp + self.info.user_id).encode(), hashlib.sha1).hexdigest()
        return Template(template).safe_substitute(user_id=self.info.user_id,
                                                  signature=signature, timestamp=stamp,
                                                  **values)

    def sample(self, name: str) -> str:
        return self.sign((SAMPLES / name).read_text(encoding="utf-8"))

    def envelope(self, body: str, *, auth_extra: str = "", header_extra: str = "") -> str:
        return self.sign(ENVELOPE.template, body=body, auth_extra=auth_extra,
                         header_extra=header_extra)

    def post(self, xml: str, version: str = "3_1", *, action: str | None = None,
             ) -> requests.Response:
        headers = {"Content-Type": "text/xml;charset=UTF-8"}
        if action:
            headers["SOAPAction"] = f'"{MKTOWS}{action}"'
        return self.http.post(self.info.endpoint_of(version), data=xml.encode("utf-8"),
                              headers=headers, timeout=30)

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.info.base_url}{path}", timeout=30)

    def requests(self) -> list[dict[str, Any]]:
        with open_store(self.info.db_path) as store:
            return store.requests()

    def last(self) -> dict[str, Any]:
        return self.requests()[-1]

    def leads(self) -> list[dict[str, Any]]:
        with open_store(self.info.db_path) as store:
            return store.leads()

    def runs(self) -> list[dict[str, Any]]:
        with open_store(self.info.db_path) as store:
            return store.campaign_runs()

    def programs(self) -> list[dict[str, Any]]:
        with open_store(self.info.db_path) as store:
            return store.programs()


@contextmanager
def box(tmp_path: Path, fixture: Path | None = FIDELITY, **kw: Any) -> Iterator[Raw]:
    """A sandbox on a fresh database (`kw`: `strict=True` etc., as `running` takes them)."""
    with running(tmp_path / "fidelity.sqlite", fixture, **kw) as info:
        raw = Raw(info)
        try:
            yield raw
        finally:
            raw.close()


def result(reply: requests.Response, operation: str) -> Element:
    """The `result` of a success reply."""
    assert reply.status_code == 200, reply.text
    body = SafeET.fromstring(reply.content).find(f"{{{SOAP_ENV}}}Body")
    assert body is not None
    success = body.find(f"{{{MKTOWS}}}success{operation[0].upper()}{operation[1:]}")
    assert success is not None, reply.text
    found = success.find("result")
    assert found is not None
    return found


def fault_code(reply: requests.Response) -> str:
    assert reply.status_code == 500, reply.text
    return SafeET.fromstring(reply.content).findtext(
        f".//{{{MKTOWS}}}serviceException/code", "")


def params(operation: str, children: str) -> str:
    name = f"params{operation[0].upper()}{operation[1:]}"
    return f"<ns1:{name}>{children}</ns1:{name}>"


# -- the default is production ----------------------------------------------------------------


def test_the_sandbox_reads_like_production_unless_asked_to_be_strict(
        tmp_path: Path, sandbox: SandboxInfo) -> None:
    with box(tmp_path, None) as raw:
        assert raw.info.config.strict is False
    assert sandbox.config.strict is True  # conftest's: the runner's envelopes are checked


@pytest.mark.parametrize("version", ["2_2", "3_1"])
def test_marketos_java_sync_lead_sample_is_applied_with_its_qualified_attribute_list(
        tmp_path: Path, version: str) -> None:
    """The docs' Java sample builds `leadAttributeList` with the mktows QName (reference
    §1.2): schema-invalid, yet production synced it and Talend shipped the same code."""
    with box(tmp_path) as raw:
        reply = raw.post(raw.sample("sync_lead_java.xml"), version, action="syncLead")
        assert result(reply, "syncLead").findtext("syncStatus/status") == "CREATED"
        (lead,) = raw.leads()
        assert (lead["email"], lead["attributes"]) == (
            "george@jungle.com", {"FirstName": "George2", "LastName": "of the Jungle"})
        assert (raw.last()["ignored"], raw.last()["version"]) == ([], version)


def test_the_docs_schedule_campaign_sample_is_applied_though_out_of_order(
        tmp_path: Path) -> None:
    """The docs put cloneToProgramName after campaignRunAt (reference §4 item 2): invalid in
    every layout, answered with success by Marketo, and the clone made."""
    with box(tmp_path) as raw:
        reply = raw.post(raw.sample("schedule_campaign_docs.xml"), action="scheduleCampaign")
        assert result(reply, "scheduleCampaign").findtext("success") == "true"
        (run,) = raw.runs()
        assert (run["program_name"], run["campaign_name"], run["run_at"]) == (
            "TestProgramCloneFromSOAP", "Batch Campaign Example", "2013-08-03T21:39:34-07:00")
        assert run["tokens"] == {"{{my.message}}": "Updated message",
                                 "{{my.other token}}": "Value for other token"}
        assert [p["name"] for p in raw.programs()] == ["TestProgramCloneFromSOAP"]
        assert raw.last()["ignored"] == []


def test_a_miscased_foreign_sys_person_id_is_ignored_and_logged(tmp_path: Path) -> None:
    """markety's capture: `foreignSysPersonId` (the doc tables' casing) before Email got
    CREATED with a nil ForeignSysPersonId (reference §3.2): the foreign id was lost."""
    with box(tmp_path) as raw:
        found = result(raw.post(raw.sample("sync_lead_miscased.xml")), "syncLead")
        assert found.findtext("syncStatus/status") == "CREATED"
        record = found.find("leadRecord")
        assert record is not None
        assert record.find("ForeignSysPersonId").get(NIL) == "true"  # type: ignore[union-attr]
        (lead,) = raw.leads()
        assert (lead["email"], lead["foreign_sys_person_id"], lead["attributes"]) == (
            "joe@example.com", None, {"FirstName": "Joe"})
        assert raw.last()["ignored"] == ["paramsSyncLead/leadRecord/foreignSysPersonId"]


@pytest.mark.parametrize("sample", ["sync_lead_java.xml", "schedule_campaign_docs.xml",
                                    "sync_lead_miscased.xml"])
def test_strict_mode_refuses_the_samples_production_accepted(tmp_path: Path,
                                                             sample: str) -> None:
    with box(tmp_path, strict=True) as raw:
        assert fault_code(raw.post(raw.sample(sample))) == "20012"
        assert (raw.leads(), raw.runs()) == ([], [])
        assert raw.last()["ignored"] == []  # strict validates; it never drops silently


def test_every_ignored_element_is_logged_with_its_path(tmp_path: Path) -> None:
    records = (
        '<leadRecord><Email>one@example.com</Email><o:Email xmlns:o="urn:other">x@example.com'
        "</o:Email></leadRecord>"
        "<leadRecord><id>7</id><Email>two@example.com<b>bold</b></Email></leadRecord>"
    )
    body = (params("syncMultipleLeads", f"<leadRecordList>{records}</leadRecordList>"
                   "<dedupEnabled>true</dedupEnabled><dedupEnabled>false</dedupEnabled>")
            + "<ns1:trailer/>")
    with box(tmp_path) as raw:
        xml = raw.envelope(
            body, auth_extra="<shoeSize>9</shoeSize>",
            header_extra='<x:Trace xmlns:x="urn:example">1</x:Trace><ns1:MktowsContextHeader>'
                         "<targetWorkspace>Default</targetWorkspace></ns1:MktowsContextHeader>")
        found = result(raw.post(xml), "syncMultipleLeads")
        assert [s.findtext("status") for s in found.iter("syncStatus")] == ["CREATED",
                                                                            "CREATED"]
        assert [x["email"] for x in raw.leads()] == ["one@example.com", "two@example.com"]
        assert raw.last()["ignored"] == [
            "trailer",
            "AuthenticationHeader/shoeSize",
            "{urn:example}Trace",
            "MktowsContextHeader",  # bound on syncLead only
            "paramsSyncMultipleLeads/leadRecordList/leadRecord[1]/{urn:other}Email",
            "paramsSyncMultipleLeads/leadRecordList/leadRecord[2]/id",
            "paramsSyncMultipleLeads/leadRecordList/leadRecord[2]/Email/b",
            "paramsSyncMultipleLeads/dedupEnabled[2]",
        ]


def test_a_faulted_request_still_logs_what_it_ignored(tmp_path: Path) -> None:
    with box(tmp_path) as raw:
        reply = raw.post(raw.envelope(params(
            "requestCampaign", "<source>MKTOWS</source><campaignId>99</campaignId>"
                               "<campaignID>1</campaignID>")))
        assert fault_code(reply) == "20113"
        assert raw.last()["ignored"] == ["paramsRequestCampaign/campaignID"]


def test_sandbox_requests_shows_the_ignored_elements(tmp_path: Path, run_cli: Any) -> None:
    with box(tmp_path) as raw:
        result(raw.post(raw.sample("sync_lead_miscased.xml")), "syncLead")
        db = str(raw.info.db_path)
    table = run_cli("sandbox", "requests", "--db", db).out
    header = table.splitlines()[0].split()
    assert header[-3:] == ["version", "ignored", "detail"]
    assert "3_1" in table and "paramsSyncLead/leadRecord/foreignSysPersonId" in table
    (row,) = json.loads(run_cli("sandbox", "requests", "--db", db, "--json").out)
    assert (row["version"], row["ignored"]) == (
        "3_1", ["paramsSyncLead/leadRecord/foreignSysPersonId"])


def test_strict_is_a_fixture_setting_and_a_serve_flag(tmp_path: Path, run_cli: Any) -> None:
    fixture = tmp_path / "strict.yml"
    fixture.write_text(FIDELITY.read_text(encoding="utf-8") + "config: {strict: true}\n",
                       encoding="utf-8")
    with box(tmp_path, fixture) as raw:
        assert fault_code(raw.post(raw.sample("sync_lead_miscased.xml"))) == "20012"
    with box(tmp_path / "lenient", fixture, strict=False) as raw:
        result(raw.post(raw.sample("sync_lead_miscased.xml")), "syncLead")
    assert "--strict / --lenient" in run_cli("sandbox", "serve", "--help").out
