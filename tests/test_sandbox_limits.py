"""Marketo's limits, each configurable: rate (20023), concurrency (20024), the daily quota
(20015, reset at 12:00 AM US Central) and the daily cloneToProgramName allowance (20114).
Time is a fake clock, so windows and days pass instantly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from runner.sandbox import FaultPlan, SandboxConfig
from runner.sandbox.limits import day_start
from tests.test_sandbox import FIXTURES, Client, FakeClock, fault, params, serving

CAMPAIGNS = params("getCampaignsForSource", "<source>MKTOWS</source>")
CENTRAL = ZoneInfo("America/Chicago")
NO_LIMITS = {"rate_limit_calls": None, "max_in_flight": None, "daily_quota": None}


def outcome(client: Client, **kw: str) -> str:
    status, reply = client.post(client.envelope(CAMPAIGNS, **kw))
    return "ok" if status == 200 else fault(status, reply)["code"]


def test_the_defaults_are_marketos_numbers() -> None:
    config = SandboxConfig()
    assert (config.rate_limit_calls, config.rate_limit_window, config.max_in_flight,
            config.daily_quota, config.clone_limit_per_day) == (100, 20.0, 10, 10_000, 10)
    assert config.timestamp_window == timedelta(minutes=15)
    off = config.without_limits()
    assert (off.rate_limit_calls, off.max_in_flight, off.daily_quota,
            off.clone_limit_per_day) == (None, None, None, None)


def test_more_than_100_calls_in_20_seconds_is_fault_20023(tmp_path: Path) -> None:
    clock = FakeClock()
    with serving(tmp_path, clock=clock) as client:
        results = []
        for _ in range(101):
            results.append(outcome(client))
            clock.advance(0.1)  # 101 calls within 10.1 s
        assert results == ["ok"] * 100 + ["20023"]
        clock.advance(10)  # the first call is now more than 20 s old: room for one more
        assert outcome(client) == "ok"


def test_calls_rejected_by_the_rate_limit_still_count(tmp_path: Path) -> None:
    clock = FakeClock()
    with serving(tmp_path, clock=clock, rate_limit_calls=2, rate_limit_window=20) as client:
        assert [outcome(client) for _ in range(3)] == ["ok", "ok", "20023"]
        clock.advance(15)
        assert outcome(client) == "20023"  # counted, though rejected (t=15)
        clock.advance(5.5)  # t=20.5: the three calls at t=0 have left the window
        assert outcome(client) == "ok"
        assert outcome(client) == "20023"  # the rejected call at t=15 is still in it


def test_calls_that_fail_authentication_do_not_count(tmp_path: Path) -> None:
    with serving(tmp_path, clock=FakeClock(), rate_limit_calls=2, daily_quota=2) as client:
        assert [outcome(client, key="wrong") for _ in range(5)] == ["20014"] * 5
        assert [outcome(client) for _ in range(3)] == ["ok", "ok", "20015"]


def test_more_than_10_calls_in_flight_is_fault_20024(tmp_path: Path) -> None:
    # Every call is slow (1 s, during which it is in flight): of 13 sent at once, 10 are
    # admitted and 3 refused at once; afterwards the slots are free again.
    slow = FaultPlan(slow=1.0, slow_seconds=1.0)
    with serving(tmp_path, faults=slow, rate_limit_calls=None) as client:
        with ThreadPoolExecutor(max_workers=13) as pool:
            results = list(pool.map(lambda _: outcome(client), range(13)))
        assert sorted(results) == ["20024"] * 3 + ["ok"] * 10
        assert outcome(client) == "ok"


def test_the_concurrency_limit_is_configurable(tmp_path: Path) -> None:
    slow = FaultPlan(slow=1.0, slow_seconds=0.6)
    with serving(tmp_path, faults=slow, max_in_flight=1) as client:
        with ThreadPoolExecutor(max_workers=3) as pool:
            results = list(pool.map(lambda _: outcome(client), range(3)))
        assert sorted(results) == ["20024", "20024", "ok"]


def test_the_daily_quota_is_fault_20015_until_midnight_us_central(tmp_path: Path) -> None:
    # 18:50 in Chicago is 23:50 UTC: UTC's midnight passes first and changes nothing.
    clock = FakeClock(datetime(2026, 6, 1, 18, 50, tzinfo=CENTRAL))
    with serving(tmp_path, clock=clock, daily_quota=3) as client:
        assert [outcome(client) for _ in range(4)] == ["ok", "ok", "ok", "20015"]
        clock.advance(20 * 60)  # 19:10 Central, 00:10 UTC
        assert outcome(client) == "20015"
    # The count is kept in the database: a restart the same day does not reset it.
    with serving(tmp_path, clock=clock, daily_quota=3) as client:
        assert outcome(client) == "20015"
        clock.now = datetime(2026, 6, 2, 0, 0, 1, tzinfo=CENTRAL)
        assert [outcome(client) for _ in range(4)] == ["ok", "ok", "ok", "20015"]


@pytest.mark.parametrize(("local", "start"), [
    (datetime(2026, 6, 1, 23, 59), datetime(2026, 6, 1)),
    (datetime(2026, 6, 2, 0, 0), datetime(2026, 6, 2)),
    (datetime(2026, 3, 8, 12, 0), datetime(2026, 3, 8)),  # the day daylight saving starts
    (datetime(2026, 11, 1, 23, 0), datetime(2026, 11, 1)),  # and the day it ends
])
def test_the_day_starts_at_midnight_in_chicago_all_year(local: datetime,
                                                        start: datetime) -> None:
    assert day_start(local.replace(tzinfo=CENTRAL)) == start.replace(tzinfo=CENTRAL)


def test_limits_switched_off_let_everything_through(tmp_path: Path) -> None:
    config = SandboxConfig(rate_limit_calls=3, daily_quota=3).without_limits()
    with serving(tmp_path, clock=FakeClock(), config=config) as client:
        assert {outcome(client) for _ in range(12)} == {"ok"}


def schedule_clone(name: str) -> str:
    return params("scheduleCampaign", f"<programName>Tests</programName><cloneToProgramName>"
                  f"{name}</cloneToProgramName><campaignName>Nightly</campaignName>")


def test_ten_clones_a_day_then_fault_20114_until_midnight_us_central(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 22, 0, tzinfo=CENTRAL))
    with serving(tmp_path, FIXTURES / "leads.yml", clock=clock, **NO_LIMITS) as client:
        def clone(name: str) -> str:
            status, reply = client.post(client.envelope(schedule_clone(name)))
            return "ok" if status == 200 else fault(status, reply)["code"]

        assert [clone(f"Copy {i}") for i in range(11)] == ["ok"] * 10 + ["20114"]
        # Scheduling without a clone is not limited, and neither is a clone's own campaign.
        plain = params("scheduleCampaign", "<programName>Copy 1</programName>"
                       "<campaignName>Nightly</campaignName>")
        assert client.post(client.envelope(plain))[0] == 200
        clock.now = datetime(2026, 6, 2, 0, 0, tzinfo=CENTRAL)
        assert clone("Copy 10") == "ok"
        assert clone("Copy 10") == "20110"  # a new day, but that name is taken now


def test_the_clone_limit_is_configurable(tmp_path: Path) -> None:
    with serving(tmp_path, FIXTURES / "leads.yml", clone_limit_per_day=1) as client:
        assert client.post(client.envelope(schedule_clone("A")))[0] == 200
        assert fault(*client.post(client.envelope(schedule_clone("B"))))["code"] == "20114"
