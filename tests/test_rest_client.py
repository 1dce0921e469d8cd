"""The REST transport's one call (runner/rest/client.py, envelope.py) against the sandbox's
REST twin over HTTP on 127.0.0.1: Bearer only, `POST …?_method=GET` past 8 KB, errors as
runner.errors types with their retry decisions, paging to the end. The other
`test_rest_<area>.py` files import the helpers from here. Only failure shapes the sandbox
cannot produce (a gateway's 502, a 200 that is not JSON, a token that never changes) are
answered by a stub transport.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from runner import retry
from runner.errors import ResponseError, RestError, TransportError
from runner.model import HttpReply
from runner.operations import REGISTRY
from runner.rest import RestSession, RestTarget
from runner.rest.client import MAX_URI
from runner.sandbox import FaultPlan, SandboxInfo, open_store
from runner.secrets import Secret
from runner.transport import HttpTransport
from tests.test_sandbox_rest import Rest, serving_rest


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    content_type: str | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query)


Answer = Callable[[Sent], HttpReply | None]


class Recording:
    """The real HttpTransport, remembering every request; `answer` may reply instead of the
    server (a stub for one shape), returning None to let the request through."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.inner = HttpTransport()
        self.seen: list[Sent] = []
        self.answer = answer

    def request(self, method: str, url: str, *, headers: dict[str, str],
                body: bytes | None = None, content_type: str | None = None) -> HttpReply:
        sent = Sent(method, url, dict(headers), body, content_type)
        self.seen.append(sent)
        stub = self.answer(sent) if self.answer is not None else None
        if stub is not None:
            return stub
        return self.inner.request(method, url, headers=headers, body=body,
                                  content_type=content_type)

    def api(self) -> list[Sent]:
        return [s for s in self.seen if "/identity/" not in s.url]


def target(info: SandboxInfo, **options: Any) -> RestTarget:
    assert info.client_id and info.client_secret
    return RestTarget(info.rest_endpoint, info.identity_url, info.client_id,
                      Secret(info.client_secret), **options)


def session(info: SandboxInfo, transport: Any = None, **options: Any) -> RestSession:
    """A RestSession on the sandbox; `options` go to RestTarget or RestSession."""
    target_keys = {"partitions", "foreign_id_field", "partner_id"}
    return RestSession(target(info, **{k: v for k, v in options.items() if k in target_keys}),
                       transport or Recording(),
                       **{k: v for k, v in options.items() if k not in target_keys})


def requests_log(info: SandboxInfo) -> list[dict[str, Any]]:
    with open_store(info.db_path) as store:
        return store.requests()


def count(info: SandboxInfo, operation: str, **where: Any) -> int:
    return sum(1 for r in requests_log(info) if r["operation"] == operation
               and all(r[k] == v for k, v in where.items()))


@contextmanager
def rest_box(tmp_path: Path, **overrides: Any) -> Iterator[Rest]:
    """The REST test fixture (tests/data/sandbox/rest.yml) served with `overrides`."""
    with serving_rest(tmp_path, **overrides) as rest:
        yield rest


def json_reply(body: str, status: int = 200, content_type: str = "application/json") -> HttpReply:
    return HttpReply(status, content_type, body.encode())


# -- Bearer only ------------------------------------------------------------------------------


def test_every_api_call_carries_the_token_as_bearer_and_never_as_a_parameter(tmp_path):
    with rest_box(tmp_path) as rest:
        wire = Recording()
        api = session(rest.info, wire)
        api.send("getLead", {"leadKey": {"keyType": "EMAIL", "keyValue": "ada@example.com"}})
        api.send("syncLead", {"leadRecord": {"Email": "new@example.com"}})
        token = api.identity.token()
        assert len(wire.api()) == 3  # describe, the filter read, Sync Leads
        for sent in wire.api():
            assert sent.headers["Authorization"] == f"Bearer {token}"
            assert "access_token" not in sent.url
            assert b"access_token" not in (sent.body or b"")
        (ask,) = [s for s in wire.seen if "/identity/" in s.url]
        assert "Authorization" not in ask.headers and ask.path == "/identity/oauth/token"


# -- the URI limit ------------------------------------------------------------------------------


def test_a_read_whose_uri_would_pass_8_kb_goes_as_post_with_method_get(tmp_path):
    with rest_box(tmp_path) as rest:
        wire = Recording()
        api = session(rest.info, wire)
        many = [f"nobody-{i:04d}@long-example-domain.com" for i in range(299)]
        ids = api.lead_ids("EMAIL", [*many, "ada@example.com"])
        short = api.lead_ids("EMAIL", ["bob@example.com"])
    assert (ids, short) == ([1], [2])
    long_read, short_read = wire.api()
    assert long_read.method == "POST" and long_read.query == {"_method": ["GET"]}
    assert long_read.content_type == "application/x-www-form-urlencoded"
    form = parse_qs((long_read.body or b"").decode())
    assert form["filterType"] == ["email"] and form["filterValues"][0].endswith("ada@example.com")
    assert len(long_read.url) + len(long_read.body or b"") > MAX_URI
    assert short_read.method == "GET" and short_read.query["filterValues"] == ["bob@example.com"]
    assert len(short_read.url) <= MAX_URI


# -- errors and what retry makes of them --------------------------------------------------------


def test_a_response_level_error_is_a_rest_error_with_marketos_code_as_int(tmp_path):
    with rest_box(tmp_path) as rest:
        api = session(rest.info)
        with pytest.raises(RestError) as caught:
            api.get("/v1/campaigns/999.json")
    assert (caught.value.code, caught.value.http_status) == (1013, 200)
    assert retry.decide(caught.value, REGISTRY["requestCampaign"].idempotent) == retry.FAIL


@pytest.mark.parametrize(("kind", "code", "action"), [
    ("fault20023", 606, retry.BACKOFF),  # the sandbox's REST twin answers these as 606/615
    ("fault20024", 615, retry.BACKOFF),
])
def test_rate_and_concurrency_limits_back_off_even_for_a_campaign_call(tmp_path, kind, code,
                                                                      action):
    plan = FaultPlan(**{kind: 1.0}, operations=frozenset({"rest.triggerCampaign"}))
    with rest_box(tmp_path, faults=plan) as rest:
        api = session(rest.info)
        with pytest.raises(RestError) as caught:
            api.send("requestCampaign", {"campaignId": 1, "leadList": [
                {"keyType": "IDNUM", "keyValue": 1}]})
        assert rest.runs() == []
    assert caught.value.code == code
    assert retry.decide(caught.value, REGISTRY["requestCampaign"].idempotent) == action


def test_the_daily_quota_stops_cleanly_and_is_never_retried(tmp_path):
    with rest_box(tmp_path, rest_daily_quota=1) as rest:
        api = session(rest.info)
        api.get("/v1/leads/partitions.json")
        with pytest.raises(RestError) as caught:
            api.get("/v1/leads/partitions.json")
    assert caught.value.code == 607
    assert retry.decide(caught.value, REGISTRY["syncLead"].idempotent) == retry.FAIL


@pytest.mark.parametrize(("code", "action"), [
    (601, retry.RESIGN), (602, retry.RESIGN), (604, retry.BACKOFF), (608, retry.BACKOFF),
    (611, retry.BACKOFF), (713, retry.BACKOFF), (603, retry.FAIL), (609, retry.FAIL),
    (610, retry.FAIL), (612, retry.FAIL), (1003, retry.FAIL), (1013, retry.FAIL),
    (None, retry.FAIL),
])
def test_rest_codes_retry_as_issue_15_classes_them(code, action):
    for operation in ("syncLead", "requestCampaign", "scheduleCampaign", "getLead"):
        assert retry.decide(RestError(code, "x"), REGISTRY[operation].idempotent) == action


def test_a_bare_500_backs_off_and_nothing_was_run(tmp_path):
    # The twin's injected HTTP 500 answers before processing, as Marketo's front end would.
    plan = FaultPlan(http500=1.0, operations=frozenset({"rest.triggerCampaign"}))
    with rest_box(tmp_path, faults=plan) as rest:
        with pytest.raises(TransportError) as caught:
            session(rest.info).send("requestCampaign", {"campaignId": 1, "leadList": [
                {"keyType": "IDNUM", "keyValue": 1}]})
        assert rest.runs() == []
    assert caught.value.http_status == 500
    assert retry.decide(caught.value, REGISTRY["requestCampaign"].idempotent) == retry.BACKOFF


def test_a_gateways_502_after_a_trigger_is_ambiguous_but_an_upsert_retries(tmp_path):
    def gateway(sent: Sent) -> HttpReply | None:  # the twin cannot answer a REST 502
        if sent.path.endswith(("/trigger.json", "/v1/leads.json")) and sent.method == "POST":
            return HttpReply(502, "text/html", b"<html>502 Bad Gateway</html>")
        return None

    with rest_box(tmp_path) as rest:
        api = session(rest.info, Recording(gateway))
        errors = []
        for operation, params in (
                ("requestCampaign", {"campaignId": 1, "leadList": [
                    {"keyType": "IDNUM", "keyValue": 1}]}),
                ("syncLead", {"leadRecord": {"Email": "gw@example.com"}})):
            with pytest.raises(TransportError) as caught:
                api.send(operation, params)
            errors.append((operation, caught.value))
    assert [(e.http_status, e.sent) for _, e in errors] == [(502, True), (502, True)]
    assert [retry.decide(e, REGISTRY[op].idempotent) for op, e in errors] == [retry.AMBIGUOUS, retry.BACKOFF]


def test_a_dropped_answer_to_a_trigger_is_ambiguous_and_the_run_happened(tmp_path):
    plan = FaultPlan(drop_after=1.0, operations=frozenset({"rest.triggerCampaign"}))
    with rest_box(tmp_path, faults=plan) as rest:
        with pytest.raises(TransportError) as caught:
            session(rest.info).send("requestCampaign", {"campaignId": 1, "leadList": [
                {"keyType": "IDNUM", "keyValue": 1}]})
        assert len(rest.runs()) == 1  # Marketo acted: resending would run it twice
    assert caught.value.sent
    assert retry.decide(caught.value, REGISTRY["requestCampaign"].idempotent) == retry.AMBIGUOUS


def test_a_lookup_that_fails_before_the_trigger_is_no_ambiguity(tmp_path):
    plan = FaultPlan(drop_after=1.0, operations=frozenset({"rest.getCampaigns"}))
    with rest_box(tmp_path, faults=plan) as rest:
        with pytest.raises(TransportError) as caught:
            session(rest.info).send("requestCampaign", {
                "programName": "Tests", "campaignName": "Go",
                "leadList": [{"keyType": "IDNUM", "keyValue": 1}]})
        assert rest.runs() == []
    assert not caught.value.sent and "not requested" in str(caught.value)
    assert retry.decide(caught.value, REGISTRY["requestCampaign"].idempotent) == retry.BACKOFF


def test_a_200_that_is_not_json_is_a_response_error(tmp_path):
    with rest_box(tmp_path) as rest:
        api = session(rest.info, Recording(lambda sent: None if "/identity/" in sent.url
                                           else HttpReply(200, "text/html", b"<html/>")))
        with pytest.raises(ResponseError, match="not JSON"):
            api.get("/v1/leads/partitions.json")
        api = session(rest.info, Recording(lambda sent: None if "/identity/" in sent.url
                                           else json_reply("{not json")))
        with pytest.raises(ResponseError, match="not JSON"):
            api.get("/v1/leads/partitions.json")


# -- paging ---------------------------------------------------------------------------------------


def test_a_paged_read_follows_next_page_token_to_the_end(tmp_path):
    with rest_box(tmp_path) as rest:
        api = session(rest.info, page_size=1)
        names = [c["name"] for c in api.records("/v1/campaigns.json", {})]
        assert sorted(names) == ["For Sales", "Go", "Go", "Nightly", "Paused"]
        assert count(rest.info, "rest.getCampaigns", applied=True) == 5


def test_paging_never_asks_twice_with_the_same_token(tmp_path):
    page = '{"requestId":"1#1","success":true,"result":[{"id":1}],"nextPageToken":"SAME"}'
    with rest_box(tmp_path) as rest:
        wire = Recording(lambda sent: None if "/identity/" in sent.url else json_reply(page))
        records = list(session(rest.info, wire).records("/v1/campaigns.json", {}))
    assert records == [{"id": 1}, {"id": 1}]
    first, second = wire.api()
    assert "nextPageToken" not in first.query and second.query["nextPageToken"] == ["SAME"]


def test_paging_stops_at_more_result_false_or_an_empty_page(tmp_path):
    replies = iter([
        '{"requestId":"1#1","success":true,"result":[{"id":1}],"nextPageToken":"A",'
        '"moreResult":false}',
        '{"requestId":"1#1","success":true,"result":[],"nextPageToken":"B"}'])
    with rest_box(tmp_path) as rest:
        wire = Recording(lambda sent: None if "/identity/" in sent.url
                         else json_reply(next(replies)))
        api = session(rest.info, wire)
        assert list(api.records("/v1/activities.json", {})) == [{"id": 1}]
        assert list(api.records("/v1/activities.json", {})) == []
    assert len(wire.api()) == 2


def test_a_token_quoted_back_in_an_error_is_masked(tmp_path):
    with rest_box(tmp_path) as rest:
        def echo(sent: Sent) -> HttpReply | None:
            if "/identity/" in sent.url:
                return None
            token = sent.headers["Authorization"].split(" ", 1)[1]
            return json_reply('{"requestId":"1#1","success":false,"errors":[{"code":"603",'
                              f'"message":"Access denied for {token}"}}]}}')

        api = session(rest.info, Recording(echo))
        with pytest.raises(RestError) as caught:
            api.get("/v1/leads/partitions.json")
        token = api.identity.token()
    assert caught.value.code == 603 and token not in str(caught.value)
    assert caught.value.message == "Access denied for ***"
