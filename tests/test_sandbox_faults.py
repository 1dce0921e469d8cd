"""Fault injection: deterministic by seed, every kind observable by a client, and every
injected event recorded in the requests table (injected, applied) for the execution
issue's reliability tests."""

from __future__ import annotations

import http.client
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from runner.sandbox import FaultPlan, SandboxConfig, parse_fault
from runner.sandbox.config import ConfigError
from runner.sandbox.injection import choose, operation_of
from tests.test_sandbox import Client, fault, lead_xml, params, serving


def raw(client: Client, xml: str) -> tuple[int, bytes] | str:
    """(status, body), or "dropped" when the server closed the connection without a reply."""
    url = urlsplit(client.info.endpoint)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request("POST", url.path, xml.encode(), {"Content-Type": "text/xml"})
        reply = conn.getresponse()
        return reply.status, reply.read()
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return "dropped"
    finally:
        conn.close()


def sync_xml(client: Client, email: str = "f@example.com") -> str:
    return client.envelope(params("syncLead", lead_xml(email) + "<returnLead>false</returnLead>"))


@pytest.mark.parametrize(("kind", "answer", "applied"), [
    ("http500", (500, b""), False),
    ("http503", (503, b""), False),
    ("drop_before", "dropped", False),
    ("drop_after", "dropped", True),
])
def test_http_level_faults(tmp_path: Path, kind: str, answer: Any, applied: bool) -> None:
    with serving(tmp_path, faults=FaultPlan(**{kind: 1.0})) as client:
        assert raw(client, sync_xml(client)) == answer
        assert len(client.leads()) == int(applied)
        (row,) = client.requests()
        assert (row["n"], row["operation"], row["injected"], row["applied"]) == (
            1, "syncLead", kind, applied)


@pytest.mark.parametrize("code", [20016, 20023, 20024])
def test_injected_marketo_faults_are_answered_without_processing(tmp_path: Path,
                                                                 code: int) -> None:
    with serving(tmp_path, faults=FaultPlan(**{f"fault{code}": 1.0})) as client:
        answer = raw(client, sync_xml(client))
        assert isinstance(answer, tuple)
        details = fault(*answer)
        assert details["code"] == str(code)
        assert "injected by the sandbox" in details["message"]
        assert client.leads() == []
        (row,) = client.requests()
        assert (row["fault_code"], row["injected"], row["applied"]) == (
            code, f"fault{code}", False)


def test_slow_responses_arrive_late_and_are_applied(tmp_path: Path) -> None:
    with serving(tmp_path, faults=FaultPlan(slow=1.0, slow_seconds=0.3)) as client:
        start = time.monotonic()
        assert raw(client, sync_xml(client))[0] == 200  # type: ignore[index]
        assert time.monotonic() - start >= 0.3
        assert client.requests()[0]["injected"] == "slow"


def test_faults_can_be_restricted_to_some_operations(tmp_path: Path) -> None:
    plan = FaultPlan(drop_after=1.0, operations=frozenset({"syncLead"}))
    with serving(tmp_path, faults=plan) as client:
        campaigns = client.envelope(params("getCampaignsForSource", "<source>MKTOWS</source>"))
        assert raw(client, campaigns)[0] == 200  # type: ignore[index]
        assert raw(client, sync_xml(client)) == "dropped"
        assert [(r["n"], r["injected"]) for r in client.requests()] == [
            (1, None), (2, "drop_after")]


def test_a_seed_replays_the_same_faults(tmp_path: Path) -> None:
    plan = FaultPlan(seed=42, http503=0.2, drop_before=0.1, drop_after=0.1, fault20023=0.2)
    seen = []
    for attempt in range(2):
        with serving(tmp_path / str(attempt), faults=plan) as client:
            for i in range(25):
                raw(client, sync_xml(client, f"r{i}@example.com"))
            rows = client.requests()
            seen.append([(r["n"], r["injected"]) for r in rows])
            # what the client saw as dropped-after-processing is exactly what was applied
            dropped_after = {r["n"] for r in rows if r["injected"] == "drop_after"}
            applied = {r["n"] for r in rows if r["applied"]}
            assert dropped_after <= applied
            assert len(client.leads()) == len(applied)
    assert seen[0] == seen[1]
    assert [kind for _, kind in seen[0]] == [choose(plan, n) for n in range(1, 26)]
    assert {kind for _, kind in seen[0]} >= {None, "http503", "fault20023"}


def test_the_draw_is_a_pure_function_of_seed_and_request_number() -> None:
    plan = FaultPlan(seed=7, http500=0.1, slow=0.25, fault20024=0.05)
    counts = Counter(choose(plan, n) for n in range(1, 20_001))
    assert abs(counts["http500"] / 20_000 - 0.1) < 0.01
    assert abs(counts["slow"] / 20_000 - 0.25) < 0.015
    assert abs(counts["fault20024"] / 20_000 - 0.05) < 0.007
    assert [choose(plan, n) for n in range(1, 50)] == [choose(plan, n) for n in range(1, 50)]
    other = FaultPlan(seed=8, http500=0.1, slow=0.25, fault20024=0.05)
    assert [choose(plan, n) for n in range(1, 50)] != [choose(other, n) for n in range(1, 50)]


def test_no_plan_injects_nothing() -> None:
    assert not FaultPlan().active
    assert {choose(FaultPlan(), n) for n in range(1, 100)} == {None}


@pytest.mark.parametrize(("body", "operation"), [
    (b"<ns1:paramsSyncLead>", "syncLead"),
    (b"<tns:paramsGetCampaignsForSource xmlns:tns='x'>", "getCampaignsForSource"),
    (b"<paramsRequestCampaign/>", "requestCampaign"),
    (b"<nothing/>", None),
])
def test_the_operation_is_read_without_parsing(body: bytes, operation: str | None) -> None:
    assert operation_of(body) == operation


@pytest.mark.parametrize(("spec", "expected"), [
    ("http500=0.1", ("http500", 0.1)), ("dropAfter=0.05", ("drop_after", 0.05)),
    ("fault20023=1", ("fault20023", 1.0)),
])
def test_cli_fault_specs(spec: str, expected: tuple[str, float]) -> None:
    assert parse_fault(spec) == expected


@pytest.mark.parametrize("spec", ["http404=0.1", "slow", "slow=fast"])
def test_bad_cli_fault_specs(spec: str) -> None:
    with pytest.raises(ConfigError, match="--fault"):
        parse_fault(spec)


@pytest.mark.parametrize("changes", [{"http500": 1.5}, {"http500": 0.6, "slow": 0.6},
                                     {"slow_seconds": -1}])
def test_impossible_fault_plans_are_refused(changes: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        SandboxConfig().override(**changes)


def test_flat_overrides_reach_the_fault_plan() -> None:
    config = SandboxConfig().override(seed=3, drop_after=0.5, fault_operations=["syncLead"],
                                      strict=False)
    assert config.faults == FaultPlan(seed=3, drop_after=0.5, operations=frozenset({"syncLead"}))
    assert config.strict is False
    with pytest.raises(ConfigError, match="unknown sandbox setting"):
        SandboxConfig().override(colour="blue")
