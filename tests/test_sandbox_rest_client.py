"""Independent clients against the REST twin.

First the smallest client calls one can write with plain `requests` from the reference's
examples alone (marketo-rest-reference.md §2.1, §3.1, §3.2, §3.4-§3.6), none of the
project's code: token, Sync Leads, Get Leads, campaign lookup, trigger and schedule.
Then the best-known Python client, marketorestpython, used unmodified; it is skipped when
not installed (it is a test extra)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.test_sandbox import FakeClock
from tests.test_sandbox_rest import REQUEST_ID, Rest, serving_rest


@pytest.fixture
def rest(tmp_path: Path) -> Iterator[Rest]:
    # A fixed server clock (2026-06-01): the runAt dates below stay in the future.
    with serving_rest(tmp_path, clock=FakeClock()) as client:
        yield client


# -- plain requests, from the reference ------------------------------------------------------


def get_token(identity: str, client_id: str, secret: str) -> str:
    reply = requests.get(f"{identity}/oauth/token", timeout=10, params={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    reply.raise_for_status()
    return str(reply.json()["access_token"])


def call(method: str, url: str, token: str, **kw: Any) -> dict[str, Any]:
    reply = requests.request(method, url, headers={"Authorization": f"Bearer {token}"},
                             timeout=10, **kw)
    reply.raise_for_status()
    body: dict[str, Any] = reply.json()
    assert REQUEST_ID.fullmatch(body["requestId"])
    return body


def test_sync_get_trigger_and_schedule_with_plain_requests(rest: Rest) -> None:
    base, info = rest.info.rest_endpoint, rest.info
    token = get_token(info.identity_url, info.client_id or "", info.client_secret or "")

    synced = call("POST", f"{base}/v1/leads.json", token, json={
        "action": "createOrUpdate", "lookupField": "email", "input": [
            {"email": "kjashaedd-1@klooblept.com", "firstName": "Kataldar-1"},
            {"email": "ada@example.com", "lastName": "Lovelace"}]})
    assert synced["success"] is True
    assert synced["result"] == [{"id": 5, "status": "created"}, {"id": 1, "status": "updated"}]

    found = call("GET", f"{base}/v1/leads.json", token, params={
        "filterType": "email", "filterValues": "kjashaedd-1@klooblept.com,ada@example.com",
        "fields": "email,firstName,lastName"})
    assert found["result"] == [
        {"id": 1, "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"},
        {"id": 5, "email": "kjashaedd-1@klooblept.com", "firstName": "Kataldar-1",
         "lastName": None}]

    # programName + campaignName -> id (the reference's resolution recipe), then trigger.
    (campaign,) = call("GET", f"{base}/v1/campaigns.json", token, params={
        "name": "Go", "programName": "Tests", "isTriggerable": "true"})["result"]
    triggered = call("POST", f"{base}/v1/campaigns/{campaign['id']}/trigger.json", token,
                     json={"input": {"leads": [{"id": 5}, {"id": 1}], "tokens": [
                         {"name": "{{my.greeting}}", "value": "Updated message"}]}})
    assert triggered["result"] == [{"id": campaign["id"]}] and triggered["success"] is True

    (batch,) = call("GET", f"{base}/v1/campaigns.json", token, params={
        "name": "Nightly", "programName": "Tests"})["result"]
    scheduled = call("POST", f"{base}/v1/campaigns/{batch['id']}/schedule.json", token,
                     json={"input": {"runAt": "2027-03-28T18:05:00+0000", "tokens": [
                         {"name": "{{my.sender}}", "value": "Ops"}]}})
    assert scheduled["result"] == [{"id": batch["id"]}]

    runs = rest.runs()
    assert [(r["kind"], r["campaign_id"], r["lead_ids"], r["run_at"]) for r in runs] == [
        ("request", 1, [5, 1], None), ("schedule", 2, [], "2027-03-28T18:05:00Z")]


# -- marketorestpython, unmodified -----------------------------------------------------------


@pytest.fixture
def mrp(rest: Rest) -> Any:
    client_module = pytest.importorskip("marketorestpython.client")
    info = rest.info
    mc = client_module.MarketoClient("000-SBX-000", info.client_id, info.client_secret,
                                     requests_timeout=10)
    # The library builds https://<munchkin>.mktorest.com; its host is where it sends
    # everything (identity included), so pointing it here is all the configuration needed.
    mc.host = info.base_url
    return mc


def test_marketorestpython_syncs_reads_and_runs_campaigns(rest: Rest, mrp: Any) -> None:
    result = mrp.execute(method="create_update_leads", leads=[
        {"email": "mrp@example.com", "firstName": "Mr", "Newsletter_Opt_In__c": True}],
        action="createOrUpdate", lookupField="email")
    assert result == [{"id": 5, "status": "created"}]
    leads = mrp.execute(method="get_multiple_leads_by_filter_type", filterType="email",
                        filterValues=["mrp@example.com", "bob@example.com"],
                        fields=["email", "firstName", "Newsletter_Opt_In__c"])
    assert leads == [
        {"id": 2, "email": "bob@example.com", "firstName": "Bob", "Newsletter_Opt_In__c": None},
        {"id": 5, "email": "mrp@example.com", "firstName": "Mr", "Newsletter_Opt_In__c": True}]
    assert mrp.execute(method="get_lead_by_id", id=5, fields=["email"]) == [
        {"id": 5, "email": "mrp@example.com"}]
    described = mrp.execute(method="describe")
    assert {"name": "SICCode", "readOnly": False} in [f.get("soap") for f in described]
    assert mrp.execute(method="get_lead_partitions")[0]["name"] == "Default"

    campaigns = mrp.execute(method="get_multiple_campaigns", name="Go", programName="Tests")
    assert [c["id"] for c in campaigns] == [1]
    assert mrp.execute(method="get_campaign_by_id", id=2)[0]["type"] == "batch"
    assert mrp.execute(method="get_smart_campaign_by_name", name="Nightly")[0]["id"] == 2
    assert mrp.execute(method="request_campaign", id=1, leads=[5, 2],
                       tokens={"my.greeting": "Hej"}) is True
    assert mrp.execute(method="schedule_campaign", id=2) is True  # no body at all
    assert mrp.execute(method="schedule_campaign", id=2, runAt="2027-01-01T00:00:00+0000",
                       tokens={"my.sender": "Ops"}) is True
    runs = rest.runs()
    assert [(r["kind"], r["lead_ids"], r["tokens"]) for r in runs] == [
        ("request", [5, 2], {"{{my.greeting}}": "Hej"}), ("schedule", [], {}),
        ("schedule", [], {"{{my.sender}}": "Ops"})]


def test_marketorestpython_sees_marketos_errors(rest: Rest, mrp: Any) -> None:
    with pytest.raises(Exception) as unknown_lead:
        mrp.execute(method="request_campaign", id=1, leads=[99])
    assert unknown_lead.value.args[0] == {"message": "Lead [99] not found", "code": "1004"}
    bad = rest.info
    client_module = pytest.importorskip("marketorestpython.client")
    wrong = client_module.MarketoClient("000-SBX-000", bad.client_id, "wrong-secret",
                                        requests_timeout=10)
    wrong.host = bad.base_url
    with pytest.raises(Exception, match="Bad client credentials"):
        wrong.execute(method="get_lead_partitions")
