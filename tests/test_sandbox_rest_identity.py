"""Identity and tokens (marketo-rest-reference.md §2, §9.2): client credentials from the
fixture, one token per client reused with a decreasing `expires_in`, 602 on the first use
after expiry and 601 after, 603 without a token, 401 OAuth bodies for bad credentials.
Time is a fake clock, so tokens expire instantly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from runner.sandbox import FaultPlan
from tests.test_sandbox import FakeClock
from tests.test_sandbox_rest import UUID_TOKEN, Rest, failure, ok, serving_rest

PARTITIONS = "/rest/v1/leads/partitions.json"


@pytest.fixture
def rest(tmp_path: Path) -> Iterator[Rest]:
    with serving_rest(tmp_path) as client:
        yield client


def code(rest: Rest, token: str | None) -> str:
    reply = rest.request("GET", PARTITIONS, token=token)
    return "ok" if reply.json()["success"] else failure(reply)["code"]


def test_a_token_reply_has_marketos_shape_and_headers(rest: Rest) -> None:
    reply = rest.identity()
    assert reply.status_code == 200
    assert (reply.headers["Cache-Control"], reply.headers["Pragma"]) == ("no-store", "no-cache")
    assert reply.headers["Content-Type"] == "application/json;charset=UTF-8"
    body = reply.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert UUID_TOKEN.fullmatch(body["access_token"])
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "bearer", 3600, "api-one@example.com")


def test_the_same_token_comes_back_with_a_decreasing_expires_in(tmp_path: Path) -> None:
    clock = FakeClock()
    with serving_rest(tmp_path, clock=clock) as rest:
        seen = []
        for step in (0, 4, 2, 3):
            clock.advance(step)
            body = rest.identity().json()
            seen.append((body["access_token"], body["expires_in"]))
        assert len({token for token, _ in seen}) == 1
        assert [left for _, left in seen] == [3600, 3596, 3594, 3591]
        # POST with the same query parameters, or as a form, is the same call.
        assert rest.identity("POST").json()["access_token"] == seen[0][0]
        form = requests.post(f"{rest.info.identity_url}/oauth/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": "client-one",
            "client_secret": "secret-one"})
        assert form.json()["access_token"] == seen[0][0]


def test_tokens_belong_to_a_client(rest: Rest) -> None:
    other = rest.as_client("client-ro", "secret-ro")
    assert rest.token != other.token
    assert other.identity().json()["scope"] == "api-ro@example.com"


def test_an_expired_token_is_602_on_first_use_then_601(tmp_path: Path) -> None:
    clock = FakeClock()
    with serving_rest(tmp_path, clock=clock, rest_token_lifetime=60) as rest:
        old = rest.token
        clock.advance(59)
        assert code(rest, old) == "ok"
        clock.advance(1)
        assert failure(rest.request("GET", PARTITIONS, token=old)) == {
            "code": "602", "message": "Access token expired"}
        assert [code(rest, old) for _ in range(2)] == ["601", "601"]
        fresh = rest.identity().json()
        assert fresh["access_token"] != old and fresh["expires_in"] == 60
        assert code(rest, fresh["access_token"]) == "ok"


def test_identity_hands_out_a_token_in_its_last_second_as_expires_in_0(tmp_path: Path) -> None:
    # The stale token clients meet in production ([RUD], [MRKT]): same token, 0 left.
    clock = FakeClock()
    with serving_rest(tmp_path, clock=clock, rest_token_lifetime=60) as rest:
        token = rest.token
        clock.advance(59.5)
        body = rest.identity().json()
        assert (body["access_token"], body["expires_in"]) == (token, 0)
        clock.advance(0.5)
        assert code(rest, token) == "602"


def test_a_zero_lifetime_gives_tokens_that_are_already_expired(tmp_path: Path) -> None:
    with serving_rest(tmp_path, clock=FakeClock(), rest_token_lifetime=0) as rest:
        body = rest.identity().json()
        assert body["expires_in"] == 0
        assert code(rest, body["access_token"]) == "602"
        assert rest.identity().json()["access_token"] != body["access_token"]


def test_no_token_is_603_and_a_string_that_never_was_a_token_is_601(rest: Rest) -> None:
    assert failure(rest.request("GET", PARTITIONS, token=None)) == {
        "code": "603", "message": "Access denied"}
    assert rest.error("GET", PARTITIONS, token=None,
                      headers={"Authorization": "Basic abc"}) == "603"
    assert failure(rest.request("GET", PARTITIONS, token="not-a-token:sb")) == {
        "code": "601", "message": "Access token invalid"}


def test_the_access_token_query_parameter_is_ignored_unless_allowed(tmp_path: Path) -> None:
    with serving_rest(tmp_path) as rest:
        query = {"access_token": rest.token}
        assert rest.error("GET", PARTITIONS, token=None, params=query) == "603"
    with serving_rest(tmp_path, rest_access_token_query=True) as rest:
        reply = rest.request("GET", PARTITIONS, token=None, params={"access_token": rest.token})
        assert ok(reply)["result"][0]["name"] == "Default"


def test_bad_credentials_are_401_with_an_oauth_body(rest: Rest) -> None:
    def answer(**query: str) -> tuple[int, dict[str, str]]:
        reply = rest.identity(**query)
        assert reply.headers["Cache-Control"] == "no-store"
        return reply.status_code, reply.json()

    assert answer(client_secret="wrong") == (401, {
        "error": "invalid_client", "error_description": "Bad client credentials"})
    assert answer(client_id="nobody") == (401, {
        "error": "invalid_client", "error_description": "No client with requested id"})
    assert answer(grant_type="password") == (401, {
        "error": "unauthorized", "error_description": "Unsupported grant type"})


def test_identity_calls_and_token_errors_count_toward_no_limit(tmp_path: Path) -> None:
    with serving_rest(tmp_path, clock=FakeClock(), rest_daily_quota=2) as rest:
        for _ in range(5):
            rest.identity()
            assert code(rest, "stale:sb") == "601"
        assert [code(rest, rest.token) for _ in range(3)] == ["ok", "ok", "607"]
        rows = rest.requests()
        assert [r["operation"] for r in rows if not r["counted"]] == [
            "identity.token", "rest.getLeadPartitions"] * 5 + ["identity.token"]
        assert [r["fault_code"] for r in rows if not r["counted"]][:2] == [None, 601]
        assert [r["fault_code"] for r in rows if r["counted"]] == [None, None, 607]


def test_a_role_without_the_permission_is_603(tmp_path: Path) -> None:
    with serving_rest(tmp_path) as rest:
        reader = rest.as_client("client-ro", "secret-ro")
        assert reader.get("/rest/v1/leads/describe.json")["success"]
        assert reader.error("POST", "/rest/v1/leads.json",
                            json={"input": [{"email": "x@example.com"}]}) == "603"
        assert reader.error("POST", "/rest/v1/campaigns/1/trigger.json",
                            json={"input": {"leads": [{"id": 1}]}}) == "603"
        assert reader.error("GET", "/rest/v1/campaigns.json") == "603"
        assert len(rest.leads()) == 4 and rest.runs() == []


def test_identity_is_never_faulted_and_takes_no_request_number(tmp_path: Path) -> None:
    with serving_rest(tmp_path, faults=FaultPlan(http500=1.0)) as rest:
        assert rest.identity().status_code == 200  # the token fetch below is another
        assert rest.request("GET", PARTITIONS).status_code == 500
        assert [(r["operation"], r["n"]) for r in rest.requests()] == [
            ("identity.token", None), ("identity.token", None), ("rest.getLeadPartitions", 1)]


def test_tokens_do_not_survive_a_restart(tmp_path: Path) -> None:
    with serving_rest(tmp_path) as rest:
        token = rest.token
    with serving_rest(tmp_path) as rest:
        assert code(rest, token) == "601"
