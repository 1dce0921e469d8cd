"""Campaigns over REST (marketo-rest-reference.md §3.4-§3.6, §9.7): Get Campaigns with its
filters and paging, by id, trigger and schedule with their errors, and the asset API's
smart campaign by name, by id and browse. Runs land in the same table as SOAP's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.test_sandbox import FakeClock
from tests.test_sandbox_rest import Rest, failure, ok, serving_rest

CAMPAIGNS = "/rest/v1/campaigns.json"
START = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def rest(tmp_path: Path) -> Iterator[Rest]:
    with serving_rest(tmp_path, clock=FakeClock(START)) as client:
        yield client


def trigger(campaign: int, leads: list[Any], tokens: list[Any] | None = None) -> dict[str, Any]:
    return {"input": {"leads": leads, **({"tokens": tokens} if tokens is not None else {})}}


def error(rest: Rest, path: str, body: Any = None) -> dict[str, str]:
    return failure(rest.request("POST", path, json=body))


# -- Get Campaigns ---------------------------------------------------------------------------


def test_campaign_records_have_the_captured_members(rest: Rest) -> None:
    go = rest.get("/rest/v1/campaigns/1.json")["result"]
    assert go == [{"id": 1, "name": "Go", "description": "Sends a greeting.", "type": "trigger",
                   "programName": "Tests", "programId": 1, "workspaceName": "Default",
                   "createdAt": "2026-06-01T15:00:00Z", "updatedAt": "2026-06-01T15:00:00Z",
                   "active": True}]
    (nightly,) = rest.get("/rest/v1/campaigns/2.json")["result"]
    assert (nightly["type"], nightly["active"], "description" in nightly) == ("batch", False,
                                                                              False)
    assert failure(rest.request("GET", "/rest/v1/campaigns/99.json")) == {
        "code": "1013", "message": "Campaign not found"}


def test_get_campaigns_filters(rest: Rest) -> None:
    def ids(**query: Any) -> list[int]:
        return [c["id"] for c in rest.get(CAMPAIGNS, **query)["result"]]

    assert ids() == [1, 2, 3, 4, 5]
    assert ids(name="Go") == [1, 5]
    assert ids(name="Go", programName="Tests") == [1]
    assert ids(name="go") == []  # exact, case included
    assert ids(name="Go,Nightly", programName="Tests") == [1, 2]
    assert ids(id="2,4,99") == [2, 4]
    assert ids(isTriggerable="true") == [1, 5]  # active, with the Web Service API source
    assert ids(workspaceName="Nowhere") == []
    assert ids(programName="Other", isTriggerable="true") == [5]


def test_get_campaigns_pages_without_more_result(rest: Rest) -> None:
    first = rest.get(CAMPAIGNS, batchSize=2)
    assert [c["id"] for c in first["result"]] == [1, 2] and "moreResult" not in first
    second = rest.get(CAMPAIGNS, batchSize=2, nextPageToken=first["nextPageToken"])
    third = rest.get(CAMPAIGNS, batchSize=2, nextPageToken=second["nextPageToken"])
    assert [c["id"] for c in second["result"] + third["result"]] == [3, 4, 5]
    assert "nextPageToken" not in third


# -- trigger ------------------------------------------------------------------------------


def test_trigger_records_a_run_like_soap(rest: Rest) -> None:
    body = rest.post("/rest/v1/campaigns/1/trigger.json", trigger(
        1, [{"id": 2}, {"id": 1}, {"id": 2}], [{"name": "{{my.greeting}}", "value": "Hi"}]))
    assert body == {"requestId": body["requestId"], "result": [{"id": 1}], "success": True}
    (run,) = rest.runs()
    assert (run["kind"], run["campaign_id"], run["program_name"], run["campaign_name"],
            run["source"], run["lead_ids"], run["tokens"], run["effective_tokens"]) == (
        "request", 1, "Tests", "Go", "MKTOWS", [2, 1], {"{{my.greeting}}": "Hi"},
        {"{{my.greeting}}": "Hi", "{{my.sender}}": "Sandbox"})


@pytest.mark.parametrize(("campaign", "body", "code", "message"), [
    (99, trigger(99, [{"id": 1}]), "1013", "Campaign not found"),
    (2, trigger(2, [{"id": 1}]), "1003",
     "Invalid data: campaign 2 is a batch campaign; schedule it instead"),
    (3, trigger(3, [{"id": 1}]), "1003", "Invalid data: campaign 3 is not active"),
    (4, trigger(4, [{"id": 1}]), "1003", "Invalid data: campaign 4 has no Campaign is"
                                         " Requested trigger with the Web Service API source"),
    (1, None, "1002", "Missing value for the required parameter 'input'"),
    (1, {"input": {}}, "1002", "Missing value for the required parameter 'leads'"),
    (1, trigger(1, []), "701", "leads cannot be blank"),
    (1, trigger(1, [{"id": 1}, {"id": 99}]), "1004", "Lead [99] not found"),
    (1, trigger(1, [{"id": "x"}]), "1001", "Invalid value 'x'. Required of type 'integer'"),
    (1, trigger(1, [{"id": 1}] * 101), "1003", "Invalid data: more than 100 leads"),
    (1, trigger(1, [{"id": 1}], [{"name": "my.greeting", "value": "x"}]), "1003",
     "Invalid data: token name 'my.greeting' must be written {{my.name}}"),
    (1, trigger(1, [{"id": 1}], [{"name": "{{my.unknown}}", "value": "x"}]), "1003",
     "Invalid data: token '{{my.unknown}}' is not a My Token of program 'Tests'"),
    (1, trigger(1, [{"id": 1}], [{"name": "{{my.greeting}}", "value": "x"}] * 101), "1003",
     "Invalid data: tokens must be a list of at most 100"),
])
def test_trigger_errors(rest: Rest, campaign: int, body: Any, code: str, message: str) -> None:
    assert error(rest, f"/rest/v1/campaigns/{campaign}/trigger.json", body) == {
        "code": code, "message": message}
    assert rest.runs() == []


def test_trigger_with_100_leads_is_allowed(rest: Rest) -> None:
    rest.post("/rest/v1/campaigns/1/trigger.json", trigger(1, [{"id": 1}] * 100))
    assert rest.runs()[0]["lead_ids"] == [1]


# -- schedule -----------------------------------------------------------------------------


def test_schedule_without_a_body_runs_in_five_minutes(rest: Rest) -> None:
    reply = rest.request("POST", "/rest/v1/campaigns/2/schedule.json",
                         headers={"Content-Type": "application/json"})
    assert ok(reply)["result"] == [{"id": 2}]
    (run,) = rest.runs()
    assert (run["kind"], run["campaign_id"], run["run_at"]) == ("schedule", 2,
                                                                "2026-06-01T15:05:00Z")


@pytest.mark.parametrize(("run_at", "expected"), [
    ("2026-06-03T18:05:00+0000", "2026-06-03T18:05:00Z"),  # the docs' form
    ("2026-06-03T18:05:00Z", "2026-06-03T18:05:00Z"),
    ("2026-06-03T20:05:00+02:00", "2026-06-03T18:05:00Z"),
    ("2026-06-01T15:01:00Z", "2026-06-01T15:05:00Z"),  # under 5 minutes: clamped
    ("2020-01-01T00:00:00Z", "2026-06-01T15:05:00Z"),  # past: clamped
])
def test_schedule_run_at(rest: Rest, run_at: str, expected: str) -> None:
    rest.post("/rest/v1/campaigns/2/schedule.json", {"input": {
        "runAt": run_at, "tokens": [{"name": "{{my.sender}}", "value": "Ops"}]}})
    (run,) = rest.runs()
    assert (run["run_at"], run["tokens"]) == (expected, {"{{my.sender}}": "Ops"})


@pytest.mark.parametrize(("campaign", "body", "code", "message"), [
    (99, None, "1013", "Campaign not found"),
    (1, None, "1003", "Invalid data: campaign 1 is a trigger campaign; request it with"
                      " trigger.json"),
    (2, {"input": {"runAt": "2028-06-02T00:00:00Z"}}, "1042", "Invalid runAt date"),
    (2, {"input": {"runAt": "tomorrow"}}, "704", "Invalid date format: runAt 'tomorrow'"),
    (2, {"input": {"runAt": "2026-06-03T18:05:00"}}, "704",
     "Invalid date format: runAt '2026-06-03T18:05:00' has no UTC offset"),
    (2, {"input": {"cloneToProgramName": "Other"}}, "709",
     "Business Rule Violation: a program named 'Other' exists"),
])
def test_schedule_errors(rest: Rest, campaign: int, body: Any, code: str, message: str) -> None:
    assert error(rest, f"/rest/v1/campaigns/{campaign}/schedule.json", body) == {
        "code": code, "message": message}
    assert rest.runs() == []


def test_schedule_with_clone_and_the_daily_clone_limit(tmp_path: Path) -> None:
    with serving_rest(tmp_path, clock=FakeClock(START), rest_clone_limit_per_day=1) as rest:
        rest.post("/rest/v1/campaigns/2/schedule.json",
                  {"input": {"cloneToProgramName": "Tests Copy"}})
        (run,) = rest.runs()
        assert (run["program_name"], run["campaign_name"], run["clone_to_program_name"]) == (
            "Tests Copy", "Nightly", "Tests Copy")
        copy = rest.get(CAMPAIGNS, programName="Tests Copy")["result"]
        assert [(c["name"], c["programId"]) for c in copy] == [
            ("Go", 3), ("Nightly", 3), ("Paused", 3), ("For Sales", 3)]
        assert run["campaign_id"] == copy[1]["id"]
        assert error(rest, "/rest/v1/campaigns/2/schedule.json", {"input": {
            "cloneToProgramName": "Tests Copy 2"}}) == {"code": "1020",
                                                       "message": "Too many clones to program"}


# -- the asset API ------------------------------------------------------------------------


def test_smart_campaign_by_name(rest: Rest) -> None:
    reply = rest.request("GET", "/rest/asset/v1/smartCampaign/byName.json",
                         params={"name": "Go"})
    body = reply.json()
    assert list(body) == ["success", "errors", "requestId", "warnings", "result"]
    assert (body["success"], body["errors"], body["warnings"]) == (True, [], [])
    assert body["result"] == [{
        "id": 1, "name": "Go", "description": "Sends a greeting.",
        "createdAt": "2026-06-01T15:00:00Z+0000", "updatedAt": "2026-06-01T15:00:00Z+0000",
        "folder": {"id": 1, "type": "Program"}, "status": "Active", "type": "trigger",
        "isSystem": False, "isActive": True, "isRequestable": True, "workspace": "Default",
        "parentProgramId": 1}]  # two programs have a "Go": the lowest id wins


def test_no_smart_campaign_found_is_a_warning_without_result(rest: Rest) -> None:
    for path, query in [("/rest/asset/v1/smartCampaign/byName.json", {"name": "Nope"}),
                        ("/rest/asset/v1/smartCampaign/99.json", {})]:
        body = rest.request("GET", path, params=query).json()
        assert body == {"success": True, "errors": [], "requestId": body["requestId"],
                        "warnings": ["No assets found for the given search criteria."]}


def test_smart_campaign_by_id_and_browse(rest: Rest) -> None:
    (paused,) = rest.get("/rest/asset/v1/smartCampaign/3.json")["result"]
    assert (paused["status"], paused["isActive"], paused["isRequestable"]) == (
        "Inactive", False, False)
    rest.post("/rest/v1/campaigns/2/schedule.json")
    (nightly,) = rest.get("/rest/asset/v1/smartCampaign/2.json")["result"]
    assert (nightly["status"], nightly["type"]) == ("Single Run", "batch")
    page = rest.get("/rest/asset/v1/smartCampaigns.json", maxReturn=2, offset=1)["result"]
    assert [c["id"] for c in page] == [2, 3]
    other = rest.get("/rest/asset/v1/smartCampaigns.json",
                     folder='{"id": 2, "type": "Program"}')["result"]
    assert [c["id"] for c in other] == [5]
    active = rest.get("/rest/asset/v1/smartCampaigns.json", isActive="true")["result"]
    assert [c["id"] for c in active] == [1, 4, 5]
    assert failure(rest.request("GET", "/rest/asset/v1/smartCampaigns.json",
                                params={"maxReturn": 201}), asset=True)["code"] == "1003"
