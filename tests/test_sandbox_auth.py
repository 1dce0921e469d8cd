"""The AuthenticationHeader: users from the fixture, the signature (pinned by the verified
vectors of mktows-reference.md §2.2, sent verbatim), the timestamp window, and the faults.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from runner.soap.auth import w3c_timestamp
from runner.soap.namespaces import MKTOWS, SOAP_ENV
from tests.test_sandbox import FIXTURES, Client, FakeClock, fault, lead_key, params, serving

DOCS_USER = "demo17_1_809934544BFABAE58E5D27"
BIGCORP = "bigcorp1_461839624B16E06BA2D663"
PACIFIC = timezone(timedelta(hours=-7))  # Marketo's samples sign in America/Los_Angeles
CAMPAIGNS = params("getCampaignsForSource", "<source>MKTOWS</source>")


@pytest.fixture
def client(sandbox: Any) -> Client:
    return Client(sandbox)


@pytest.mark.parametrize(("user", "timestamp", "signature"), [
    (DOCS_USER, "2013-08-01T18:22:30-07:00", "b5e21953ae9f1b263e644da5eccce9ff33802513"),
    (DOCS_USER, "2013-08-05T11:08:02-07:00", "d4bebb327d734bc517851f4b93d488cf4498be81"),
    (DOCS_USER, "2013-08-05T14:56:58-07:00", "17bf0b9e412e58eec836dc557ca9433f666944b6"),
    (DOCS_USER, "2013-08-05T16:34:19-07:00", "9890d974aa58ccb96d7a0a3166573f6436c883dd"),
    (BIGCORP, "2010-04-09T14:04:54-07:00", "ffbff4d4bef354807481e66dc7540f7890523a87"),
])
def test_the_verified_signature_vectors_pass_with_a_fixed_clock(
        tmp_path: Path, user: str, timestamp: str, signature: str) -> None:
    clock = FakeClock(datetime.fromisoformat(timestamp) + timedelta(seconds=3))
    with serving(tmp_path, FIXTURES / "auth.yml", clock=clock) as client:
        xml = client.envelope(CAMPAIGNS, user=user, timestamp=timestamp, signature=signature)
        status, _ = client.post(xml)
        assert status == 200
        # One character off and the same request is refused.
        wrong = client.envelope(CAMPAIGNS, user=user, timestamp=timestamp,
                                signature=signature[:-1] + ("0" if signature[-1] != "0" else "1"))
        assert fault(*client.post(wrong))["code"] == "20014"
        # The same vector a day later has expired.
        clock.advance(86_400)
        assert fault(*client.post(xml))["code"] == "20016"


def test_a_wrong_encryption_key_is_marketos_authentication_fault(client: Client) -> None:
    assert client.fault("getLead", lead_key("IDNUM", 1), key="not-the-key") == {
        "faultcode": "SOAP-ENV:Client", "faultstring": "20014 - Authentication failed",
        "name": "mktServiceException", "message": "Authentication failed (20014)",
        "code": "20014",
    }
    assert client.requests()[-1]["detail"] == "requestSignature does not match"


def test_an_unknown_user_is_fault_20014(client: Client) -> None:
    assert client.fault_code("getLead", lead_key("IDNUM", 1), user="somebody", key="k") == "20014"


@pytest.mark.parametrize("header", [
    "",  # no SOAP Header at all
    "<SOAP-ENV:Header/>",
    "<SOAP-ENV:Header><ns1:MktowsContextHeader><targetWorkspace>Default</targetWorkspace>"
    "</ns1:MktowsContextHeader></SOAP-ENV:Header>",
])
def test_a_request_without_authentication_header_is_fault_20014(client: Client,
                                                                header: str) -> None:
    xml = (f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:ns1="{MKTOWS}">{header}'
           f"<SOAP-ENV:Body>{params('getLead', lead_key('IDNUM', 1))}</SOAP-ENV:Body>"
           "</SOAP-ENV:Envelope>")
    assert fault(*client.post(xml))["code"] == "20014"


@pytest.mark.parametrize(("timestamp", "code"), [
    (w3c_timestamp(datetime(2026, 6, 1, 15, 0, tzinfo=UTC) - timedelta(minutes=16)), "20016"),
    (w3c_timestamp(datetime(2026, 6, 1, 15, 0, tzinfo=UTC) + timedelta(minutes=16)), "20016"),
    (w3c_timestamp(datetime(2026, 6, 1, 15, 0, tzinfo=UTC) - timedelta(minutes=14)), None),
    (w3c_timestamp(datetime(2026, 6, 1, 15, 0, tzinfo=UTC).astimezone(PACIFIC)), None),
    ("2026-06-01T15:00:00Z", None),
    ("2026-06-01T15:00:00.250+00:00", None),
    ("2026-06-01T15:00:00", "20016"),  # no UTC offset
    ("yesterday", "20016"),
])
def test_the_timestamp_must_be_within_15_minutes_of_the_servers_clock(
        tmp_path: Path, timestamp: str, code: str | None) -> None:
    with serving(tmp_path, clock=FakeClock()) as client:
        status, reply = client.post(client.envelope(CAMPAIGNS, timestamp=timestamp))
        if code:
            assert fault(status, reply)["faultstring"] == "20016 - Request Expired"
        else:
            assert status == 200


def test_the_timestamp_window_is_configurable(tmp_path: Path) -> None:
    clock = FakeClock()
    old = w3c_timestamp(clock() - timedelta(seconds=40))
    with serving(tmp_path, clock=clock, timestamp_window=timedelta(seconds=30)) as client:
        assert fault(*client.post(client.envelope(CAMPAIGNS, timestamp=old)))["code"] == "20016"
    with serving(tmp_path, clock=clock, timestamp_window=timedelta(minutes=1)) as client:
        assert client.post(client.envelope(CAMPAIGNS, timestamp=old))[0] == 200


def test_every_fixture_user_can_call(tmp_path: Path) -> None:
    clock = FakeClock()
    with serving(tmp_path, FIXTURES / "auth.yml", clock=clock) as client:
        for user, key in [(DOCS_USER, "27272727aa"),
                          (BIGCORP, "899756834129871744AAEE88DDCC77CDEEDEC1AAAD66")]:
            assert client.post(client.envelope(CAMPAIGNS, user=user, key=key))[0] == 200
        assert [r["user_id"] for r in client.requests()] == [DOCS_USER, BIGCORP]
