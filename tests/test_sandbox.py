"""The mktows sandbox over real HTTP on 127.0.0.1: the shared test client, and the HTTP,
persistence and inspection behaviour. The other `test_sandbox_<area>.py` files import the
client from here.

Requests are built from string templates and signed with `runner.soap.auth.sign`, so
these tests do not depend on the runner's envelope builder. Every success reply is checked
against the WSDL's `success<Op>` element.
"""

from __future__ import annotations

import http.client
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
import pytest

from runner.resources import wsdl_path
from runner.sandbox import SandboxConfig, SandboxInfo, open_store, reset, running, show
from runner.soap import xsd
from runner.soap.auth import sign, w3c_timestamp
from runner.soap.namespaces import MKTOWS, SOAP_ENV, XSI

DATA = Path(__file__).parent / "data"
ENVELOPES = DATA / "envelopes"
FIXTURES = DATA / "sandbox"
NIL = f"{{{XSI}}}nil"

ENVELOPE = Template(
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:ns1="{MKTOWS}" xmlns:xsi="{XSI}">'
    "<SOAP-ENV:Header><ns1:AuthenticationHeader><mktowsUserId>$user_id</mktowsUserId>"
    "<requestSignature>$signature</requestSignature>"
    "<requestTimestamp>$timestamp</requestTimestamp></ns1:AuthenticationHeader>$extra_header"
    "</SOAP-ENV:Header><SOAP-ENV:Body>$body</SOAP-ENV:Body></SOAP-ENV:Envelope>"
)


# -- the shared client ----------------------------------------------------------------------


class FakeClock:
    """A settable server clock; the client signs with it too, so timestamps stay fresh."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 6, 1, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Client:
    """Signed SOAP calls to one running sandbox, and a look into its database."""

    def __init__(self, info: SandboxInfo, clock: FakeClock | None = None) -> None:
        self.info = info
        self.clock = clock

    def envelope(self, body: str, *, extra_header: str = "", timestamp: str | None = None,
                 key: str | None = None, user: str | None = None,
                 signature: str | None = None) -> str:
        stamp = timestamp or w3c_timestamp(self.clock() if self.clock else datetime.now(UTC))
        user_id = user or self.info.user_id
        signature = signature or sign(stamp, user_id, key or self.info.encryption_key)
        return ENVELOPE.substitute(user_id=escape(user_id), signature=signature,
                                   timestamp=escape(stamp), body=body, extra_header=extra_header)

    def exchange(self, method: str, target: str, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        url = urlsplit(self.info.endpoint)
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
        try:
            conn.request(method, target, body, headers or {})
            reply = conn.getresponse()
            return reply.status, reply.getheader("Content-Type") or "", reply.read()
        finally:
            conn.close()

    def post(self, xml: str, *, action: str | None = None,
             content_type: str = "text/xml; charset=UTF-8") -> tuple[int, bytes]:
        headers = {"Content-Type": content_type}
        if action:
            headers["SOAPAction"] = f'"{MKTOWS}{action}"'
        path = urlsplit(self.info.endpoint).path
        status, _, body = self.exchange("POST", path, xml.encode(), headers)
        return status, body

    def call(self, operation: str, children: str, **kw: str) -> Element:
        """The `result` of a successful call (checked against the WSDL)."""
        status, reply = self.post(self.envelope(params(operation, children), **kw),
                                  action=operation)
        return success(status, reply, operation)

    def fault(self, operation: str, children: str, **kw: str) -> dict[str, str]:
        return fault(*self.post(self.envelope(params(operation, children), **kw)))

    def fault_code(self, operation: str, children: str, **kw: str) -> str:
        return self.fault(operation, children, **kw)["code"]

    def sync(self, email: str | None = None, attrs: dict[str, str] | None = None, *,
             return_lead: bool = False, cookie: str | None = None, lead_id: int | None = None,
             foreign: str | None = None, extra: str = "", **kw: str) -> Element:
        children = lead_xml(email, attrs, lead_id=lead_id, foreign=foreign)
        children += f"<returnLead>{str(return_lead).lower()}</returnLead>"
        if cookie:
            children += f"<marketoCookie>{escape(cookie)}</marketoCookie>"
        return self.call("syncLead", children + extra, **kw)

    def sync_id(self, email: str | None = None, **kw: Any) -> int:
        return int(self.sync(email, **kw).findtext("leadId") or 0)

    def leads(self) -> list[dict[str, Any]]:
        with open_store(self.info.db_path) as store:
            return store.leads()

    def lead(self, lead_id: int) -> dict[str, Any]:
        with open_store(self.info.db_path) as store:
            found = store.lead(lead_id)
        assert found is not None
        return found

    def runs(self) -> list[dict[str, Any]]:
        with open_store(self.info.db_path) as store:
            return store.campaign_runs()

    def requests(self) -> list[dict[str, Any]]:
        with open_store(self.info.db_path) as store:
            return store.requests()


@contextmanager
def serving(tmp_path: Path, fixture: Path | None = None, *, clock: FakeClock | None = None,
            config: SandboxConfig | None = None, **overrides: Any) -> Iterator[Client]:
    """A sandbox on a fresh database with `overrides` applied to the fixture's settings."""
    if overrides:
        from runner.sandbox import fixture_config

        config = (config or fixture_config(fixture)).override(**overrides)
    kw: dict[str, Any] = {"config": config}
    if clock is not None:
        kw["clock"] = clock
    with running(tmp_path / "db.sqlite", fixture, **kw) as info:
        yield Client(info, clock)


@pytest.fixture
def client(sandbox: SandboxInfo) -> Client:
    return Client(sandbox)


def params(operation: str, children: str) -> str:
    name = f"params{operation[0].upper()}{operation[1:]}"
    return f"<ns1:{name}>{children}</ns1:{name}>"


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


def lead_xml(email: str | None = None, attrs: dict[str, str] | None = None, *,
             lead_id: int | None = None, foreign: str | None = None,
             foreign_type: str = "CUSTOM") -> str:
    keys = "".join([
        f"<Id>{lead_id}</Id>" if lead_id is not None else "",
        f"<Email>{escape(email)}</Email>" if email else "",
        f"<ForeignSysPersonId>{foreign}</ForeignSysPersonId><ForeignSysType>{foreign_type}"
        "</ForeignSysType>" if foreign else "",
    ])
    attributes = "".join(
        f"<attribute><attrName>{n}</attrName><attrValue>{escape(v)}</attrValue></attribute>"
        for n, v in (attrs or {}).items()
    )
    return f"<leadRecord>{keys}<leadAttributeList>{attributes}</leadAttributeList></leadRecord>"


def lead_key(key_type: str, value: str | int) -> str:
    return f"<leadKey><keyType>{key_type}</keyType><keyValue>{value}</keyValue></leadKey>"


def sample(client: Client, name: str) -> str:
    template = Template((ENVELOPES / name).read_text(encoding="utf-8"))
    stamp = w3c_timestamp(datetime.now(UTC))
    return template.substitute(user_id=client.info.user_id, timestamp=stamp,
                               signature=sign(stamp, client.info.user_id,
                                              client.info.encryption_key))


# -- the documented samples ------------------------------------------------------------


def test_the_sample_sync_lead_envelope_creates_a_lead(client: Client) -> None:
    result = success(*client.post(sample(client, "sync_lead_by_email.xml")), "syncLead")
    assert result.findtext("syncStatus/status") == "CREATED"
    assert result.find("leadRecord").get(NIL) == "true"  # type: ignore[union-attr]
    (lead,) = client.leads()
    assert lead["email"] == "ada.lovelace@example.com"
    assert lead["attributes"] == {"FirstName": "Ada", "LastName": "Lovelace",
                                  "Company": "Analytical Engines & Co"}
    assert lead["partition"] == "Default"


def test_the_sample_request_campaign_envelope_records_a_run(client: Client) -> None:
    success(*client.post(sample(client, "sync_lead_by_email.xml")), "syncLead")
    result = success(*client.post(sample(client, "request_campaign_by_id.xml"),
                                  action="requestCampaign"), "requestCampaign")
    assert result.findtext("success") == "true"
    (run,) = client.runs()
    assert run["kind"] == "request"
    assert (run["campaign_id"], run["lead_ids"], run["ignored_keys"]) == (
        1001, [client.leads()[0]["id"]], 0)


# -- HTTP ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["WSDL", "wsdl", "Wsdl="])
def test_the_wsdl_is_served_with_the_sandbox_own_address(client: Client, query: str) -> None:
    path = urlsplit(client.info.endpoint).path
    status, content_type, body = client.exchange("GET", f"{path}?{query}")
    assert (status, content_type) == (200, "text/xml;charset=UTF-8")
    address = SafeET.fromstring(body).find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address is not None
    assert address.get("location") == client.info.endpoint


@pytest.mark.parametrize(("method", "target", "content_type", "expected"), [
    ("GET", "/", None, 404),
    ("GET", "/soap/mktows/3_1", None, 404),
    ("POST", "/soap/other/3_1", "text/xml", 404),
    ("PUT", "/soap/mktows/3_1", "text/xml", 405),
    ("DELETE", "/soap/mktows/3_1", None, 405),
    ("PATCH", "/soap/mktows/3_1", "text/xml", 405),
    ("POST", "/soap/mktows/3_1", "application/soap+xml", 415),  # SOAP 1.2 is not spoken
    ("POST", "/soap/mktows/3_1", "application/json", 415),
    ("POST", "/soap/mktows/3_1", None, 415),
])
def test_requests_outside_the_soap_endpoint_never_reach_the_service(
        client: Client, method: str, target: str, content_type: str | None,
        expected: int) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    xml = client.envelope(params("getLead", lead_key("IDNUM", 1))).encode()
    status, _, _ = client.exchange(method, target, xml if method != "GET" else b"", headers)
    assert status == expected
    assert client.requests() == []


def test_every_soap_request_is_logged_with_its_outcome(client: Client) -> None:
    client.sync("count@example.com")
    client.fault_code("getLead", lead_key("EMAIL", "nobody@example.com"))
    client.post(client.envelope(params("getLead", lead_key("IDNUM", 1)), key="wrong"))
    rows = [(r["n"], r["operation"], r["fault_code"], r["applied"], r["counted"],
             r["user_id"]) for r in client.requests()]
    user = client.info.user_id
    assert rows == [(1, "syncLead", None, True, True, user), (2, "getLead", 20103, False, True,
                    user), (3, "getLead", 20014, False, False, None)]
    assert client.requests()[0]["detail"] == "lead 1 CREATED"


def test_one_keep_alive_connection_carries_several_requests(client: Client) -> None:
    url = urlsplit(client.info.endpoint)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        for _ in range(3):
            xml = client.envelope(params("getCampaignsForSource", "<source>MKTOWS</source>"))
            conn.request("POST", url.path, xml.encode(), {"Content-Type": "text/xml"})
            reply = conn.getresponse()
            success(reply.status, reply.read(), "getCampaignsForSource")
            assert reply.getheader("Connection") != "close"
    finally:
        conn.close()


def test_concurrent_requests_are_all_stored(client: Client) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: client.sync(f"c{i}@example.com"), range(40)))
    assert len({r.findtext("leadId") for r in results}) == 40
    assert len(client.leads()) == 40
    assert len(client.requests()) == 40


# -- persistence and inspection -------------------------------------------------------------


def test_leads_survive_a_restart_with_the_same_database(tmp_path: Path) -> None:
    with running(tmp_path / "db.sqlite") as info:
        lead_id = Client(info).sync_id("persist@example.com", attrs={"City": "Lyon"})
    with running(tmp_path / "db.sqlite") as info:
        result = Client(info).call("getLead", lead_key("IDNUM", lead_id))
        again = Client(info).sync("persist@example.com")
    assert result.findtext("leadRecordList/leadRecord/Email") == "persist@example.com"
    assert again.findtext("syncStatus/status") == "UPDATED"
    assert again.findtext("leadId") == str(lead_id)


def test_a_first_version_database_is_upgraded_and_keeps_its_leads(tmp_path: Path) -> None:
    db = tmp_path / "v1.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript((FIXTURES / "schema_v1.sql").read_text(encoding="utf-8"))
    conn.close()
    with running(db) as info:
        client = Client(info)
        assert client.sync("old@example.com").findtext("leadId") == "1"  # found, not created
        assert client.sync("new@example.com", foreign="F1").findtext("leadId") == "2"
    (old, new) = client.leads()
    assert (old["partition"], old["attributes"]) == ("Default", {"FirstName": "Old"})
    assert new["foreign_sys_person_id"] == "F1"
    assert [r["fault_code"] for r in client.requests()] == [None, None, None]


def test_the_database_directory_is_created_when_missing(tmp_path: Path) -> None:
    with running(tmp_path / ".mktows" / "sandbox.db") as info:
        Client(info).sync("dir@example.com")
    assert (tmp_path / ".mktows" / "sandbox.db").is_file()


def test_show_prints_leads_runs_and_requests_as_tables_or_json(client: Client) -> None:
    lead_id = client.sync_id("show@example.com", attrs={"FirstName": "Sho"})
    client.call("requestCampaign", "<source>MKTOWS</source><campaignId>1001</campaignId>"
                f"<leadList>{lead_key('IDNUM', lead_id)}</leadList>")
    db = client.info.db_path
    table = show(db, "leads")
    assert table.splitlines()[0].split()[:3] == ["id", "email", "partition"]
    assert "show@example.com" in table and "FirstName=Sho" in table
    assert table.endswith("(1 row)\n")
    assert "1001" in show(db, "runs")
    import json

    assert [r["operation"] for r in json.loads(show(db, "requests", as_json=True))] == [
        "syncLead", "requestCampaign"]
    assert len(json.loads(show(db, "requests", as_json=True, last=1))) == 1
    with pytest.raises(ValueError, match="unknown view"):
        show(db, "nothing")


def test_reset_forgets_everything_and_ids_start_again(client: Client) -> None:
    client.sync("gone@example.com")
    reset(client.info.db_path)
    assert (client.leads(), client.runs(), client.requests()) == ([], [], [])
    assert client.sync("again@example.com").findtext("leadId") == "1"


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
        client = Client(SandboxInfo(endpoint, "mktows-sandbox", "", tmp_path / "db.sqlite"))
        status, _, _ = client.exchange("GET", f"{urlsplit(endpoint).path}?WSDL")
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
