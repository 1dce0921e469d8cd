"""Identity (runner/rest/identity.py) against the sandbox's REST twin: one token reused until
it nears its end, a dying token waited out, 601/602 answered by a new token and one replay
(no call lost, none run twice), bounded replays, 401 naming the client id and never the
secret, and token requests left out of pacing. The server's clock is a fake one; where the
client must share it, the client's clock and sleep are that same fake (no real waiting).
"""

from __future__ import annotations

import traceback
from typing import Any

import pytest

from runner import retry
from runner import sandbox as box
from runner.errors import RestError, TransportError
from runner.operations import REGISTRY
from runner.rest import PACED, CredentialError, RestSession
from runner.rest.client import MAX_REPLAYS
from runner.rest.identity import Identity
from runner.sandbox import FaultPlan
from runner.secrets import Secret
from tests.test_rest_client import Recording, count, requests_log, rest_box, session, target
from tests.test_sandbox import FakeClock
from tests.test_sandbox_rest import REST_FIXTURE

SYNC = "rest.syncLeads"


def on_the_fake_clock(info: Any, clock: FakeClock, **kw: Any) -> RestSession:
    """A session whose Identity reads (and waits on) the sandbox's own fake clock."""
    wire = Recording()
    t = target(info)
    identity = Identity(t.identity_endpoint, t.client_id, t.client_secret, wire,
                        clock=lambda: clock.now.timestamp(), sleep=clock.advance, **kw)
    return RestSession(t, wire, identity=identity)


def sync(api: RestSession, email: str) -> dict[str, Any]:
    return api.send("syncLead", {"leadRecord": {"Email": email}})


def test_one_token_serves_every_call_until_it_nears_its_end(tmp_path):
    with rest_box(tmp_path) as rest:
        api = session(rest.info)
        for i in range(5):
            sync(api, f"lead{i}@example.com")
        assert api.identity.requests == 1
        assert count(rest.info, "identity.token") == 1


def test_a_token_near_its_end_is_renewed_and_a_dying_one_waited_out(tmp_path):
    clock = FakeClock()
    with rest_box(tmp_path, clock=clock, rest_token_lifetime=60) as rest:
        api = on_the_fake_clock(rest.info, clock, margin_s=10, stale_s=5)
        sync(api, "a@example.com")
        first = api.identity.token()
        clock.advance(49)
        assert api.identity.token() == first  # 11 s left: still used, nothing asked
        clock.advance(6)  # 5 s left: asked again; Identity hands back the same, dying token
        sync(api, "b@example.com")
        assert api.identity.token() != first
        # Asked at start, at 55 s (same token, 5 s left: waited out), then a new one.
        assert api.identity.requests == 3
        assert count(rest.info, SYNC, applied=True) == 2
        assert count(rest.info, SYNC, fault_code=602) == 0  # no call ever met an expired token


def test_a_token_handed_out_with_expires_in_0_is_waited_out(tmp_path):
    clock = FakeClock()
    with rest_box(tmp_path, clock=clock, rest_token_lifetime=60) as rest:
        old = rest.token  # another client of the same service asked first
        clock.advance(59.5)
        api = on_the_fake_clock(rest.info, clock, margin_s=10, stale_s=5)
        sync(api, "a@example.com")
        assert api.identity.token() != old
        assert api.identity.requests == 2
        assert count(rest.info, SYNC, applied=True) == 1


def test_a_602_gets_a_new_token_and_the_call_is_replayed_once(tmp_path):
    # The client's clock trusts the token; the server's says it expired: 602, not executed.
    clock = FakeClock()
    with rest_box(tmp_path, clock=clock, rest_token_lifetime=3600) as rest:
        api = session(rest.info)
        sync(api, "before@example.com")
        clock.advance(3600)
        out = sync(api, "after@example.com")
        assert out["status"] == "CREATED"
        assert api.identity.requests == 2
        assert count(rest.info, SYNC, fault_code=602, applied=False) == 1
        assert count(rest.info, SYNC, applied=True) == 2  # nothing lost, nothing twice
        emails = [lead["email"] for lead in rest.leads()]
        assert (emails.count("before@example.com"), emails.count("after@example.com")) == (1, 1)


def test_a_601_on_a_trigger_is_replayed_and_the_campaign_runs_once(tmp_path):
    # Tokens live in the sandbox's memory: after a restart the old one is unknown (601).
    db = tmp_path / "db.sqlite"
    with box.running(db, REST_FIXTURE) as info:
        api = session(info)
        api.get("/v1/leads/partitions.json")
        port = int(info.base_url.rsplit(":", 1)[1])
    with box.running(db, REST_FIXTURE, port=port) as info:
        out = api.send("requestCampaign", {"campaignId": 1, "leadList": [
            {"keyType": "IDNUM", "keyValue": 1}]})
        with box.open_store(info.db_path) as store:
            runs = store.campaign_runs()
    assert out == {"success": True}
    assert len(runs) == 1 and api.identity.requests == 2
    assert count(info, "rest.triggerCampaign", fault_code=601) == 1


def test_replays_are_bounded_and_an_unexecuted_trigger_is_never_run(tmp_path):
    plan = FaultPlan(fault20016=1.0, operations=frozenset({"rest.triggerCampaign"}))
    with rest_box(tmp_path, faults=plan) as rest:
        api = session(rest.info)
        with pytest.raises(RestError) as caught:
            api.send("requestCampaign", {"campaignId": 1, "leadList": [
                {"keyType": "IDNUM", "keyValue": 1}]})
        assert rest.runs() == []
        assert count(rest.info, "rest.triggerCampaign") == MAX_REPLAYS + 1
        assert api.identity.requests == MAX_REPLAYS + 1
    assert caught.value.code == 602
    assert retry.decide(caught.value, REGISTRY["requestCampaign"].idempotent) == retry.RESIGN


def _all_text(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), repr(exc.args), repr(vars(exc)),
                      *traceback.format_exception(exc)])


@pytest.mark.parametrize(("client_id", "secret", "said"), [
    ("client-one", "wrong-secret-value", "Bad client credentials"),
    ("client-nobody", "secret-one", "No client with requested id"),
])
def test_identitys_401_names_the_client_id_and_never_the_secret(tmp_path, client_id, secret,
                                                                said):
    with rest_box(tmp_path) as rest:
        t = target(rest.info)
        bad = RestSession(type(t)(t.rest_endpoint, t.identity_endpoint, client_id,
                                  Secret(secret)), Recording())
        with pytest.raises(CredentialError) as caught:
            bad.send("getLead", {"leadKey": {"keyType": "IDNUM", "keyValue": 1}})
        assert len(requests_log(rest.info)) == 1  # nothing but the token request
    text = _all_text(caught.value)
    assert client_id in caught.value.message and said in caught.value.message
    assert secret not in text and "secret-one" not in text
    assert caught.value.http_status == 401 and caught.value.code is None
    assert retry.decide(caught.value, REGISTRY["getLead"].idempotent) == retry.FAIL
    assert "secret-one" not in repr(t)


def test_a_token_request_that_cannot_connect_acted_on_nothing_and_shows_no_secret(tmp_path):
    with rest_box(tmp_path) as rest:
        t = target(rest.info)
    # The sandbox has stopped: its port refuses connections.
    api = RestSession(t, Recording())
    with pytest.raises(TransportError) as caught:
        api.send("requestCampaign", {"campaignId": 1, "leadList": [
            {"keyType": "IDNUM", "keyValue": 1}]})
    assert not caught.value.sent
    assert t.client_secret not in _all_text(caught.value)
    assert retry.decide(caught.value, REGISTRY["requestCampaign"].idempotent) == retry.BACKOFF


class CountingPacer:
    def __init__(self) -> None:
        self.held = 0
        self.acquired = 0

    def acquire(self) -> object:
        self.acquired += 1
        self.held += 1
        return object()

    def release(self, slot: object) -> None:
        self.held -= 1


def test_token_requests_are_not_paced_api_calls_are(tmp_path):
    assert PACED is False
    pacer = CountingPacer()
    clock = FakeClock()
    with rest_box(tmp_path, clock=clock) as rest:
        api = session(rest.info, pacer=pacer)
        sync(api, "a@example.com")
        clock.advance(3600)  # 602, a new token, a replay: the replay is an API call too
        sync(api, "b@example.com")
    assert api.identity.requests == 2
    assert pacer.acquired == api.client.sent == 3 and pacer.held == 0


def test_every_new_token_is_reported_so_a_run_can_mask_it(tmp_path):
    seen: list[str] = []
    with rest_box(tmp_path) as rest:
        t = target(rest.info)
        api = RestSession(t, Recording(), on_token=seen.append)
        sync(api, "a@example.com")
        assert seen == [api.identity.token()]
    assert repr(api.identity.token()) == "Secret('***')"
