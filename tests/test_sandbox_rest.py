"""The sandbox's REST twin over real HTTP on 127.0.0.1: the shared REST test client, and the
transport, envelope, same-store and start-up behaviour. The other
`test_sandbox_rest_<area>.py` files import the client from here.

Requests are made with plain `requests` from the paths and shapes in
marketo-rest-reference.md, never with the runner's code.
"""

from __future__ import annotations

import gzip
import json
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from runner.sandbox import SandboxInfo, open_store, rest_lines
from tests.test_sandbox import FIXTURES, Client, FakeClock, lead_key, params, serving

REST_FIXTURE = FIXTURES / "rest.yml"
REQUEST_ID = re.compile(r"[0-9a-f]+#[0-9a-f]+")
UUID_TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:\w+")


class Rest:
    """REST calls to one running sandbox with one client's token, and a look into its store."""

    def __init__(self, info: SandboxInfo, clock: FakeClock | None = None,
                 client_id: str | None = None, secret: str | None = None) -> None:
        self.info = info
        self.clock = clock
        self.client_id = client_id or info.client_id or ""
        self.secret = secret or info.client_secret or ""
        self._token: str | None = None
        self.soap = Client(info, clock)

    def as_client(self, client_id: str, secret: str) -> Rest:
        return Rest(self.info, self.clock, client_id, secret)

    def identity(self, method: str = "GET", **query: str) -> requests.Response:
        query = {"grant_type": "client_credentials", "client_id": self.client_id,
                 "client_secret": self.secret, **query}
        return requests.request(method, f"{self.info.identity_url}/oauth/token", params=query,
                                timeout=10)

    @property
    def token(self) -> str:
        if self._token is None:
            reply = self.identity()
            assert reply.status_code == 200, reply.text
            self._token = reply.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, *, token: str | None = "", **kw: Any
                ) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token or self.token}")
        return requests.request(method, self.info.base_url + path, headers=headers,
                                timeout=10, **kw)

    def get(self, path: str, **query: Any) -> dict[str, Any]:
        return ok(self.request("GET", path, params=query))

    def post(self, path: str, body: Any = None, **query: Any) -> dict[str, Any]:
        return ok(self.request("POST", path, json=body, params=query))

    def error(self, method: str, path: str, **kw: Any) -> str:
        """The response-level error code of a call (after checking the failure shape)."""
        return failure(self.request(method, path, **kw))["code"]

    def sync(self, *leads: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
        return list(self.post("/rest/v1/leads.json", {**options, "input": list(leads)})["result"])

    def leads(self) -> list[dict[str, Any]]:
        with open_store(self.info.db_path) as store:
            return store.leads()

    def runs(self) -> list[dict[str, Any]]:
        with open_store(self.info.db_path) as store:
            return store.campaign_runs()

    def requests(self) -> list[dict[str, Any]]:
        with open_store(self.info.db_path) as store:
            return store.requests()


@contextmanager
def serving_rest(tmp_path: Path, fixture: Path | None = REST_FIXTURE, *,
                 clock: FakeClock | None = None, **overrides: Any) -> Iterator[Rest]:
    with serving(tmp_path, fixture, clock=clock, **overrides) as client:
        yield Rest(client.info, clock)


@pytest.fixture
def rest(tmp_path: Path) -> Iterator[Rest]:
    with serving_rest(tmp_path) as client:
        yield client


def ok(reply: requests.Response) -> dict[str, Any]:
    """A lead-database success body: exactly requestId, success, result (and paging)."""
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"] == "application/json;charset=UTF-8"
    body = reply.json()
    assert body["success"] is True, body
    assert REQUEST_ID.fullmatch(body["requestId"])
    assert set(body) <= {"requestId", "success", "result", "nextPageToken", "errors",
                         "warnings"}, body
    return dict(body)


def failure(reply: requests.Response, *, asset: bool = False) -> dict[str, str]:
    """A response-level error: HTTP 200, success false, one error with a quoted code."""
    assert reply.status_code == 200, reply.text
    body = reply.json()
    expected = {"requestId", "success", "errors"} | ({"warnings"} if asset else set())
    assert set(body) == expected, body
    assert body["success"] is False and REQUEST_ID.fullmatch(body["requestId"])
    if asset:
        assert body["warnings"] == []
    (error,) = body["errors"]
    assert set(error) == {"code", "message"} and isinstance(error["code"], str)
    assert error["message"]
    return dict(error)


# -- envelope and transport ----------------------------------------------------------------


def test_a_success_envelope_and_its_headers(rest: Rest) -> None:
    reply = rest.request("GET", "/rest/v1/leads/partitions.json")
    assert reply.headers["Connection"] == "close"
    assert ok(reply) == {"requestId": reply.json()["requestId"], "success": True, "result": [
        {"id": 1, "name": "Default", "description": "Initial system lead partition"}]}


def test_the_request_id_ends_with_the_server_time_in_hex_milliseconds(tmp_path: Path) -> None:
    clock = FakeClock()
    with serving_rest(tmp_path, clock=clock) as rest:
        rid = rest.get("/rest/v1/leads/partitions.json")["requestId"]
        assert int(rid.split("#")[1], 16) == int(clock.now.timestamp() * 1000)


def test_an_unknown_path_is_610_and_the_asset_api_adds_warnings(rest: Rest) -> None:
    assert failure(rest.request("GET", "/rest/v1/nothing.json")) == {
        "code": "610", "message": "Requested resource not found"}
    assert failure(rest.request("GET", "/rest/asset/v1/nothing.json"), asset=True) == {
        "code": "610", "message": "Requested resource not found"}
    assert rest.error("POST", "/bulk/v1/activities/export/create.json") == "610"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/rest/v1/campaigns/1/trigger.json"),
    ("GET", "/rest/v1/campaigns/2/schedule.json"),
    ("DELETE", "/rest/v1/leads.json"),
    ("PUT", "/rest/v1/leads/describe.json"),
])
def test_a_method_a_path_does_not_serve_is_605(rest: Rest, method: str, path: str) -> None:
    assert failure(rest.request(method, path)) == {"code": "605",
                                                   "message": "HTTP Method not supported"}
    assert rest.runs() == []


def test_a_json_endpoint_with_another_content_type_is_612(rest: Rest) -> None:
    body = json.dumps({"input": [{"email": "x@example.com"}]})
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        assert rest.error("POST", "/rest/v1/leads.json", data=body,
                          headers={"Content-Type": content_type}) == "612"
    assert rest.error("POST", "/rest/v1/campaigns/1/trigger.json", data=body,
                      headers={"Content-Type": "text/plain"}) == "612"
    assert len(rest.leads()) == 4  # the seeds only


def test_a_body_that_is_not_json_is_609(rest: Rest) -> None:
    assert failure(rest.request("POST", "/rest/v1/leads.json", data=b"{input: [",
                                headers={"Content-Type": "application/json"})) == {
        "code": "609", "message": "Invalid JSON"}


def test_a_body_over_1_mb_is_http_413(rest: Rest) -> None:
    big = {"input": [{"email": "x@example.com", "firstName": "x" * (1024 * 1024)}]}
    reply = rest.request("POST", "/rest/v1/leads.json", json=big)
    assert reply.status_code == 413
    assert len(rest.leads()) == 4


def test_a_uri_over_8_kb_is_414_and_post_with_method_get_reads_the_same(rest: Rest) -> None:
    values = ",".join(f"nobody-{i:04d}@long-example-domain.com" for i in range(299)) + ",ada@example.com"
    assert len(values) > 8 * 1024
    query = {"filterType": "email", "filterValues": values, "fields": "email"}
    assert rest.request("GET", "/rest/v1/leads.json", params=query).status_code == 414
    # The documented way round: _method=GET in the URL, the query as a form body.
    reply = rest.request("POST", "/rest/v1/leads.json", params={"_method": "GET"}, data=query)
    assert ok(reply)["result"] == [{"id": 1, "email": "ada@example.com"}]
    # The best-known client puts _method=GET in the form body instead: also a read.
    reply = rest.request("POST", "/rest/v1/leads.json", data={**query, "_method": "GET"})
    assert ok(reply)["result"] == [{"id": 1, "email": "ada@example.com"}]


def test_every_get_endpoint_answers_post_with_method_get(rest: Rest) -> None:
    for path, form in [("/rest/v1/leads/describe.json", {}),
                       ("/rest/v1/lead/1.json", {"fields": "email"}),
                       ("/rest/v1/campaigns.json", {"name": "Go"}),
                       ("/rest/asset/v1/smartCampaign/byName.json", {"name": "Nightly"})]:
        got = rest.request("POST", path, params={"_method": "GET"}, data=form)
        assert got.json() == rest.request("GET", path, params=form).json() | {
            "requestId": got.json()["requestId"]}, path


def test_large_replies_are_gzipped_on_request_and_small_ones_never(rest: Rest) -> None:
    def fetch(path: str) -> tuple[str | None, bytes]:
        req = urllib.request.Request(rest.info.base_url + path, headers={
            "Accept-Encoding": "gzip", "Authorization": f"Bearer {rest.token}"})
        with urllib.request.urlopen(req, timeout=10) as reply:
            return reply.headers.get("Content-Encoding"), reply.read()

    encoding, raw = fetch("/rest/v1/leads/describe.json")
    assert encoding == "gzip" and json.loads(gzip.decompress(raw))["success"] is True
    encoding, raw = fetch("/rest/v1/leads/partitions.json")
    assert encoding is None and json.loads(raw)["success"] is True


# -- one store, both APIs ------------------------------------------------------------------


def test_a_lead_synced_over_soap_is_found_over_rest_by_email_and_id(rest: Rest) -> None:
    soap_id = rest.soap.sync_id("grace@example.com", attrs={
        "FirstName": "Grace", "SICCode": "7372", "Newsletter_Opt_In__c": "true",
        "NumberOfEmployees": "12"})
    fields = "email,firstName,sicCode,Newsletter_Opt_In__c,numberOfEmployees,lastName"
    by_email = rest.get("/rest/v1/leads.json", filterType="email",
                        filterValues="GRACE@example.com", fields=fields)["result"]
    expected = {"id": soap_id, "email": "grace@example.com", "firstName": "Grace",
                "sicCode": "7372", "Newsletter_Opt_In__c": True, "numberOfEmployees": 12,
                "lastName": None}
    assert by_email == [expected]
    assert rest.get(f"/rest/v1/lead/{soap_id}.json", fields=fields)["result"] == [expected]


def test_a_lead_synced_over_rest_is_read_over_soap_under_its_soap_names(rest: Rest) -> None:
    (created,) = rest.sync({"email": "linus@example.com", "firstName": "Linus",
                            "sicCode": "7371", "dateOfBirth": "1969-12-28",
                            "personTimeZone": "Europe/Helsinki"})
    result = rest.soap.call("getLead", lead_key("IDNUM", created["id"]))
    attributes = {a.findtext("attrName"): a.findtext("attrValue")
                  for a in result.iter("attribute")}
    # REST-only fields have no SOAP name: SOAP never shows them.
    assert attributes == {"FirstName": "Linus", "SICCode": "7371", "DateofBirth": "1969-12-28"}
    assert result.findtext("leadRecordList/leadRecord/Email") == "linus@example.com"


def test_a_campaign_triggered_over_rest_shows_in_sandbox_runs(rest: Rest, run_cli: Any) -> None:
    rest.post("/rest/v1/campaigns/1/trigger.json", {"input": {"leads": [{"id": 2}]}})
    rest.soap.call("requestCampaign", "<source>MKTOWS</source><campaignId>1</campaignId>"
                   f"<leadList>{lead_key('IDNUM', 1)}</leadList>")
    db = str(rest.info.db_path)
    runs = json.loads(run_cli("sandbox", "runs", "--db", db, "--json").out)
    assert [(r["kind"], r["campaign_id"], r["lead_ids"]) for r in runs] == [
        ("request", 1, [2]), ("request", 1, [1])]
    table = run_cli("sandbox", "requests", "--db", db).out
    assert re.search(r"\brest\s+rest\.triggerCampaign\s+api-one@example\.com", table)
    assert re.search(r"\bsoap\s+requestCampaign\s+tester", table)


def test_each_api_has_its_own_daily_quota(tmp_path: Path) -> None:
    clock = FakeClock()
    with serving_rest(tmp_path, clock=clock, daily_quota=1, rest_daily_quota=2) as rest:
        campaigns = params("getCampaignsForSource", "<source>MKTOWS</source>")
        soap = rest.soap
        assert soap.post(soap.envelope(campaigns))[0] == 200
        assert [rest.request("GET", "/rest/v1/leads/partitions.json").json()["success"]
                for _ in range(3)] == [True, True, False]
        assert soap.fault_code("getCampaignsForSource", "<source>MKTOWS</source>") == "20015"


def test_a_version_1_database_is_upgraded_with_every_request_marked_soap(tmp_path: Path
                                                                        ) -> None:
    import sqlite3

    from runner.sandbox.db import SCHEMA_VERSION

    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript((FIXTURES / "schema_v1.sql").read_text(encoding="utf-8"))
    with open_store(db) as store:
        assert {r["api"] for r in store.requests()} <= {"soap"}
        assert store.rows("PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert {tuple(r["ignored"]) for r in store.requests()} <= {()}


# -- start-up ------------------------------------------------------------------------------


def test_the_start_up_lines_show_how_to_reach_rest(sandbox: SandboxInfo) -> None:
    lines = "\n".join(rest_lines(sandbox))
    assert f"REST endpoint:  {sandbox.base_url}/rest\n" in lines
    assert f"identity:       {sandbox.base_url}/identity\n" in lines
    assert f"client id:      {sandbox.client_id}\n" in lines
    assert f"client secret:  {sandbox.client_secret}\n" in lines  # the packaged, made-up one
    # The advertised endpoints answer.
    reply = requests.get(f"{sandbox.identity_url}/oauth/token", timeout=10, params={
        "grant_type": "client_credentials", "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret})
    assert reply.status_code == 200


def test_a_secret_from_the_users_own_fixture_is_masked(tmp_path: Path) -> None:
    with serving_rest(tmp_path) as rest:
        lines = "\n".join(rest_lines(rest.info))
        assert "client id:      client-one" in lines
        assert "secret-one" not in lines and "client secret:  ********" in lines
    none = replace(rest.info, client_id=None, client_secret=None)
    assert "REST clients:   none" in "\n".join(rest_lines(none))


def test_the_serve_command_takes_rest_settings(run_cli: Any) -> None:
    usage = run_cli("sandbox", "serve", "--help").out
    assert "--token-lifetime SECONDS" in usage and "--rest-quota N" in usage
