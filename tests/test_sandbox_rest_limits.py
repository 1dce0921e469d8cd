"""REST limits and faults (marketo-rest-reference.md §4.1, §9.3): 606 past the rate window
(compressible), 615 past 10 in flight, 607 past the daily quota, each API with its own
counters; and the SOAP fault plan, seeded, over REST. Time is a fake clock except where a
call must really be in flight."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from runner.sandbox import FaultPlan
from runner.sandbox.injection import GATEWAY_PAGES, choose
from tests.test_sandbox import FakeClock, params
from tests.test_sandbox_rest import Rest, failure, serving_rest

PARTITIONS = "/rest/v1/leads/partitions.json"
CENTRAL = ZoneInfo("America/Chicago")


def outcome(rest: Rest, path: str = PARTITIONS, method: str = "GET", **kw: Any) -> str:
    """"ok", the response-level code, an HTTP status, or "dropped"."""
    try:
        reply = rest.request(method, path, **kw)
    except requests.ConnectionError:
        return "dropped"
    if reply.status_code != 200:
        return f"http{reply.status_code}:{reply.content!r}"
    return "ok" if reply.json()["success"] else failure(reply)["code"]


def test_more_than_100_calls_in_20_seconds_is_606(tmp_path: Path) -> None:
    clock = FakeClock()
    with serving_rest(tmp_path, clock=clock) as rest:
        assert rest.token  # Identity calls never count
        results = []
        for _ in range(101):
            results.append(outcome(rest))
            clock.advance(0.1)
        assert results == ["ok"] * 100 + ["606"]
        assert failure(rest.request("GET", PARTITIONS)) == {
            "code": "606", "message": "Max rate limit '100' exceeded with in '20' secs"}
        clock.advance(11)  # the oldest dozen calls have left the window
        assert outcome(rest) == "ok"


def test_the_rate_window_compresses_and_rejected_calls_count(tmp_path: Path) -> None:
    clock = FakeClock()
    with serving_rest(tmp_path, clock=clock, rate_limit_calls=2, rate_limit_window=2) as rest:
        assert [outcome(rest) for _ in range(3)] == ["ok", "ok", "606"]
        assert failure(rest.request("GET", PARTITIONS))["message"] == (
            "Max rate limit '2' exceeded with in '2' secs")
        clock.advance(1.5)
        assert outcome(rest) == "606"  # the rejected calls are still in the window
        clock.advance(1)
        assert outcome(rest) == "ok"


def test_soap_calls_do_not_use_up_rests_rate_window(tmp_path: Path) -> None:
    with serving_rest(tmp_path, clock=FakeClock(), rate_limit_calls=2) as rest:
        soap = rest.soap
        campaigns = params("getCampaignsForSource", "<source>MKTOWS</source>")
        assert [soap.post(soap.envelope(campaigns))[0] for _ in range(2)] == [200, 200]
        assert [outcome(rest) for _ in range(3)] == ["ok", "ok", "606"]


def test_more_than_10_calls_in_flight_is_615(tmp_path: Path) -> None:
    slow = FaultPlan(slow=1.0, slow_seconds=1.0)
    with serving_rest(tmp_path, faults=slow, rate_limit_calls=None) as rest:
        assert rest.token  # fetched before the burst
        with ThreadPoolExecutor(max_workers=13) as pool:
            replies = list(pool.map(lambda _: rest.request("GET", PARTITIONS), range(13)))
        refused = [failure(r) for r in replies if not r.json()["success"]]
        assert len(replies) - len(refused) == 10
        assert refused == [{"code": "615",
                            "message": "Concurrent access limit '10' reached"}] * 3
        assert outcome(rest) == "ok"


def test_the_daily_quota_is_607_until_midnight_us_central(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 18, 50, tzinfo=CENTRAL))
    with serving_rest(tmp_path, clock=clock, rest_daily_quota=3) as rest:
        assert [outcome(rest) for _ in range(4)] == ["ok", "ok", "ok", "607"]
        assert failure(rest.request("GET", PARTITIONS)) == {"code": "607",
                                                           "message": "Daily quota reached"}
    # Kept in the database: a restart the same day does not reset it.
    with serving_rest(tmp_path, clock=clock, rest_daily_quota=3) as rest:
        assert outcome(rest) == "607"
        clock.now = datetime(2026, 6, 2, 0, 0, 1, tzinfo=CENTRAL)
        rest = rest.as_client(rest.client_id, rest.secret)  # yesterday's token has expired
        assert [outcome(rest) for _ in range(4)] == ["ok", "ok", "ok", "607"]


def test_usage_reports_todays_counted_calls_per_api_user(tmp_path: Path) -> None:
    with serving_rest(tmp_path, clock=FakeClock()) as rest:
        for _ in range(3):
            outcome(rest)
        outcome(rest, token="unknown:sb")  # 601: not counted
        outcome(rest.as_client("client-ro", "secret-ro"))
        (day,) = rest.get("/rest/v1/stats/usage.json")["result"]
        assert day == {"date": "2026-06-01", "total": 4, "users": [
            {"userId": "api-one@example.com", "count": 3},
            {"userId": "api-ro@example.com", "count": 1}]}


# -- fault injection ----------------------------------------------------------------------

SYNC = {"method": "POST", "path": "/rest/v1/leads.json",
        "json": {"input": [{"email": "f@example.com"}]}}


@pytest.mark.parametrize(("kind", "answer", "applied"), [
    ("http500", "http500:b''", False),
    ("http503", "http503:b''", False),
    ("drop_before", "dropped", False),
    ("drop_after", "dropped", True),
    ("slow", "ok", True),
    ("fault20016", "602", False),
    ("fault20023", "606", False),
    ("fault20024", "615", False),
    ("http502_after", f"http502:{GATEWAY_PAGES[502]!r}", True),
    ("http504_after", f"http504:{GATEWAY_PAGES[504]!r}", True),
])
def test_each_fault_kind_over_rest(tmp_path: Path, kind: str, answer: str,
                                   applied: bool) -> None:
    plan = FaultPlan(**{kind: 1.0}, slow_seconds=0.1)
    with serving_rest(tmp_path, faults=plan, rest_daily_quota=1) as rest:
        assert outcome(rest, **SYNC) == answer
        assert len(rest.leads()) == 4 + int(applied)
        row = rest.requests()[-1]
        assert (row["n"], row["api"], row["operation"], row["injected"], row["applied"]) == (
            1, "rest", "rest.syncLeads", kind, applied)
        # Faults answered without processing count toward nothing: the quota of 1 is free.
        assert row["counted"] == applied


def test_after_the_fact_faults_hit_error_replies_too(tmp_path: Path) -> None:
    # As for SOAP: the connection drops whatever the answer would have been.
    with serving_rest(tmp_path, faults=FaultPlan(drop_after=1.0)) as rest:
        assert outcome(rest, "/rest/v1/campaigns/99/trigger.json", "POST",
                       json={"input": {"leads": [{"id": 1}]}}) == "dropped"
        row = rest.requests()[-1]
        assert (row["fault_code"], row["injected"], row["applied"]) == (1013, "drop_after",
                                                                         False)


def test_the_seed_replays_the_same_faults_across_both_apis(tmp_path: Path) -> None:
    plan = FaultPlan(seed=7, http500=0.2, fault20023=0.2, drop_before=0.1)

    def sequence(where: Path) -> list[str]:
        with serving_rest(where, faults=plan, rate_limit_calls=None) as rest:
            campaigns = params("getCampaignsForSource", "<source>MKTOWS</source>")
            seen = []
            for i in range(30):
                if i % 3 == 0:
                    try:
                        seen.append(str(rest.soap.post(rest.soap.envelope(campaigns))[0]))
                    except ConnectionError:  # http.client's RemoteDisconnected is one
                        seen.append("dropped")
                else:
                    seen.append(outcome(rest))
            kinds = [r["injected"] for r in rest.requests() if r["n"] is not None]
            assert kinds == [choose(plan, n) for n in range(1, 31)]
            return seen

    first = sequence(tmp_path / "a")
    assert first == sequence(tmp_path / "b")
    assert {"ok", "606", "200", "500"} <= set(first)


def test_faults_can_target_rest_operations(tmp_path: Path) -> None:
    plan = FaultPlan(http503=1.0, operations=frozenset({"rest.triggerCampaign"}))
    with serving_rest(tmp_path, faults=plan) as rest:
        assert outcome(rest) == "ok"
        assert outcome(rest, "/rest/v1/campaigns/1/trigger.json", "POST",
                       json={"input": {"leads": [{"id": 1}]}}) == "http503:b''"
        assert rest.runs() == []
