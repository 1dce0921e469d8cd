"""Proof against an independent client: zeep reads the sandbox's `?WSDL` over HTTP and
calls it; replies must parse as the WSDL's success types, and faults must reach zeep as
SOAP Faults carrying Marketo's code. The signature is computed here with hmac, not with the
project's signer."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

zeep = pytest.importorskip("zeep")

from runner.sandbox import SandboxInfo, open_store  # noqa: E402
from runner.soap.namespaces import MKTOWS  # noqa: E402


@pytest.fixture
def soap(sandbox: SandboxInfo) -> Iterator[tuple[Any, SandboxInfo]]:
    yield zeep.Client(f"{sandbox.endpoint}?WSDL"), sandbox


def auth(client: Any, info: SandboxInfo, key: str | None = None) -> Any:
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    secret = (key or info.encryption_key).encode()
    signature = hmac.new(secret, (stamp + info.user_id).encode(), hashlib.sha1).hexdigest()
    header = client.get_element(f"{{{MKTOWS}}}AuthenticationHeader")
    return header(mktowsUserId=info.user_id, requestSignature=signature,
                  requestTimestamp=stamp)


def code_of(fault: Any) -> str:
    return str(fault.detail.findtext(f"{{{MKTOWS}}}serviceException/code"))


def test_zeep_calls_sync_lead_request_campaign_and_schedule_campaign(soap: Any) -> None:
    client, info = soap
    synced = client.service.syncLead(
        leadRecord={"Email": "zeep@example.com", "leadAttributeList": {"attribute": [
            {"attrName": "FirstName", "attrValue": "Zed"}]}},
        returnLead=True, _soapheaders=[auth(client, info)])
    assert synced.syncStatus.status == "CREATED"
    assert synced.leadRecord.Email == "zeep@example.com"
    assert synced.leadRecord.leadAttributeList.attribute[0].attrType == "string"

    requested = client.service.requestCampaign(
        source="MKTOWS", leadList={"leadKey": [{"keyType": "IDNUM",
                                                "keyValue": str(synced.leadId)}]},
        programName="Welcome Program", campaignName="Welcome Email",
        programTokenList={"attrib": [{"name": "{{my.message}}", "value": "Hi"}]},
        _soapheaders=[auth(client, info)])
    assert requested is True  # zeep unwraps a result with a single child

    scheduled = client.service.scheduleCampaign(
        programName="Welcome Program", cloneToProgramName="Welcome (zeep)",
        campaignName="Welcome Batch", campaignRunAt=datetime(2026, 7, 1, 9, tzinfo=UTC),
        _soapheaders=[auth(client, info)])
    assert scheduled is True

    with open_store(info.db_path) as store:
        runs = store.campaign_runs()
    assert [(r["kind"], r["lead_ids"]) for r in runs] == [("request", [synced.leadId]),
                                                         ("schedule", [])]
    assert runs[1]["program_name"] == "Welcome (zeep)"


def test_zeep_reads_the_lookups(soap: Any) -> None:
    client, info = soap
    client.service.syncMultipleLeads(
        leadRecordList={"leadRecord": [{"Email": "twin@example.com"}] * 2},
        dedupEnabled=False, _soapheaders=[auth(client, info)])
    found = client.service.getLead(leadKey={"keyType": "EMAIL", "keyValue": "twin@example.com"},
                                   _soapheaders=[auth(client, info)])
    assert found["count"] == 2
    campaigns = client.service.getCampaignsForSource(source="SALES",
                                                     _soapheaders=[auth(client, info)])
    assert [c.name for c in campaigns.campaignRecordList.campaignRecord] == [
        "Registration Confirmation"]


@pytest.mark.parametrize(("call", "code"), [
    (lambda c, h: c.service.getLead(leadKey={"keyType": "EMAIL", "keyValue": "no@example.com"},
                                    _soapheaders=[h]), "20103"),
    (lambda c, h: c.service.requestCampaign(source="MKTOWS", campaignId=9999,
                                            _soapheaders=[h]), "20113"),
    (lambda c, h: c.service.syncLead(leadRecord={"Email": "x@example.com", "leadAttributeList": {
        "attribute": [{"attrName": "pants", "attrValue": "blue"}]}}, returnLead=False,
        _soapheaders=[h]), "20105"),
])
def test_a_bad_call_raises_a_zeep_fault_with_the_marketo_code(soap: Any, call: Any,
                                                               code: str) -> None:
    client, info = soap
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call(client, auth(client, info))
    assert code_of(caught.value) == code
    assert caught.value.message.startswith(f"{code} - ")


def test_a_bad_signature_reaches_zeep_as_fault_20014(soap: Any) -> None:
    client, info = soap
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.getCampaignsForSource(source="MKTOWS",
                                             _soapheaders=[auth(client, info, key="wrong")])
    assert (caught.value.code, code_of(caught.value)) == ("SOAP-ENV:Client", "20014")
