"""Each operation's REST encoding (runner/operations/*: RestEncoding) against the sandbox's
REST twin: the outputs have exactly the SOAP reader's shape (and, where the same store is
read both ways, the same values as the SOAP reader gives), campaign runs are the ones SOAP
records, and what REST cannot do is refused at load with a way out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from runner import operations, retry
from runner.errors import RestError, SoapFaultError
from runner.model import HttpReply
from runner.operations import REGISTRY
from runner.operations.spec import RestSettings
from runner.sandbox import open_store
from runner.soap.response import fault
from tests.test_rest_client import Recording, Sent, count, json_reply, rest_box, session
from tests.test_sandbox import FIXTURES, Client, FakeClock, body_element, lead_key
from tests.test_sandbox_rest import Rest

ADA_COOKIE = "id:123-ABC-456&token:_mch-example.com-1-11"


def soap(rest: Rest, operation: str, children: str) -> dict[str, Any]:
    """The SOAP reader's outputs for the same question, asked of the same sandbox."""
    return operations.get(operation).soap.read(Client(rest.info).call(operation, children))


def by_ids(lead_ids: list[int]) -> list[dict[str, str]]:
    return [{"keyType": "IDNUM", "keyValue": str(i)} for i in lead_ids]


def test_every_operation_travels_over_rest():
    assert all(op.rest is not None for op in operations.REGISTRY.values())


# -- syncLead / syncMultipleLeads ---------------------------------------------------------------


def test_sync_multiple_leads_matches_each_status_to_its_record_by_position(tmp_path):
    records = [
        {"Email": "new@example.com", "leadAttributeList": {"FirstName": "New"}},
        {"Id": 9999, "Email": "ghost@example.com"},  # updateOnly by id: skipped, no id
        {"Email": "ada@example.com", "leadAttributeList": {"Country": "FR"}},
        {"Id": 2, "leadAttributeList": {"LastName": "Builder"}},
        {"Email": "not-an-email"},  # skipped 1003
    ]
    with rest_box(tmp_path) as rest:
        out = session(rest.info).send("syncMultipleLeads", {"leadRecordList": records})
        assert count(rest.info, "rest.syncLeads") == 2  # one per lookup field: email, id
        assert rest.soap.lead(2)["attributes"]["LastName"] == "Builder"
    statuses = out["syncStatusList"]
    assert [s["status"] for s in statuses] == ["CREATED", "FAILED", "UPDATED", "UPDATED",
                                               "FAILED"]
    assert [s["leadId"] for s in statuses] == [5, 9999, 1, 2, 0]
    assert statuses[1]["error"] == "1004: Lead not found"
    assert statuses[4]["error"].startswith("1003: Invalid value for field 'email'")
    assert [s["error"] for s in statuses if s["status"] != "FAILED"] == [None, None, None]
    assert out["leadIds"] == [5, 1, 2]
    assert all(set(s) == {"leadId", "status", "error"} for s in statuses)
    failed = operations.get("syncMultipleLeads").failed_records(out)
    assert failed is not None and "record 2: 1004" in failed and "record 5: 1003" in failed


def test_dedup_off_creates_duplicates(tmp_path):
    with rest_box(tmp_path) as rest:
        out = session(rest.info).send("syncMultipleLeads", {
            "leadRecordList": [{"Email": "ada@example.com"}], "dedupEnabled": False})
        assert [s["status"] for s in out["syncStatusList"]] == ["CREATED"]
        assert [lead["email"] for lead in rest.leads()].count("ada@example.com") == 2


def test_sync_lead_with_return_lead_gives_soaps_lead_record(tmp_path):
    with rest_box(tmp_path) as rest:
        out = session(rest.info).send("syncLead", {
            "leadRecord": {"Email": "ada@example.com", "leadAttributeList": {
                "SICCode": "7372", "Newsletter_Opt_In__c": True, "AnnualRevenue": 1500}},
            "returnLead": True})
        assert count(rest.info, "rest.getLeadsByFilter") == 1  # returnLead's extra call
        by_soap = soap(rest, "getLead", lead_key("IDNUM", 1))["leadRecordList"][0]
    assert (out["leadId"], out["status"], out["error"]) == (1, "UPDATED", None)
    assert out["leadRecord"] == by_soap
    assert out["leadRecord"]["leadAttributeList"]["SICCode"] == "7372"
    assert out["leadRecord"]["leadAttributeList"]["Newsletter_Opt_In__c"] == "true"


def test_sync_lead_by_id_updates_that_lead_and_a_missing_id_fails_the_record(tmp_path):
    with rest_box(tmp_path) as rest:
        api = session(rest.info)
        hit = api.send("syncLead", {"leadRecord": {"Id": 2, "Email": "bob2@example.com"}})
        miss = api.send("syncLead", {"leadRecord": {"Id": 777, "Email": "x@example.com"}})
        assert rest.soap.lead(2)["email"] == "bob2@example.com"  # SOAP: Id takes the Email
    assert hit == {"leadId": 2, "status": "UPDATED", "error": None, "leadRecord": None}
    assert miss == {"leadId": 777, "status": "FAILED", "error": "1004: Lead not found",
                    "leadRecord": None}
    assert operations.get("syncLead").failed_records(miss) is not None


def test_a_foreign_id_goes_to_its_configured_custom_field(tmp_path):
    with rest_box(tmp_path) as rest:
        api = session(rest.info, foreign_id_field="nickname")
        first = api.send("syncLead", {"leadRecord": {
            "ForeignSysPersonId": "ERP-1", "ForeignSysType": "CUSTOM", "Email": "f@example.com"}})
        again = api.send("syncLead", {"leadRecord": {
            "ForeignSysPersonId": "ERP-1", "ForeignSysType": "CUSTOM", "Email": "g@example.com"},
            "returnLead": True})
    assert (first["status"], again["status"]) == ("CREATED", "UPDATED")
    assert again["leadId"] == first["leadId"]
    assert again["leadRecord"]["ForeignSysPersonId"] == "ERP-1"
    assert again["leadRecord"]["Email"] == "g@example.com"


def test_marketo_cookie_costs_an_associate_lead_call(tmp_path):
    # The twin does not serve Associate Lead (yet): only that reply is stubbed.
    def associate(sent: Sent) -> HttpReply | None:
        if sent.path.endswith("/associate.json"):
            return json_reply('{"requestId":"a#1","success":true}')
        return None

    with rest_box(tmp_path) as rest:
        wire = Recording(associate)
        out = session(rest.info, wire).send("syncLead", {
            "leadRecord": {"Email": "cookie@example.com"}, "marketoCookie": ADA_COOKIE})
    (call,) = [s for s in wire.api() if s.path.endswith("/associate.json")]
    assert call.method == "POST" and call.path == f"/rest/v1/leads/{out['leadId']}/associate.json"
    assert call.query == {"cookie": [ADA_COOKIE]} and "%26token" in call.url
    assert out["status"] == "CREATED"


def test_a_workspace_goes_as_its_mapped_partition(tmp_path):
    fixture = FIXTURES / "rest_partitions.yml"
    params = {"leadRecord": {"Email": "eu2@example.com"}, "targetWorkspace": "Europe"}
    with rest_box(tmp_path, fixture=fixture) as rest:
        with pytest.raises(RestError, match=r"'Europe'.*does not exist") as caught:
            session(rest.info).send("syncLead", params)  # same-name default: no such partition
        assert count(rest.info, "rest.syncLeads") == 0
        with pytest.raises(RestError, match="no lead partition in the target's"):
            session(rest.info, partitions={"Americas": "AMER"}).send("syncLead", params)
        out = session(rest.info, partitions={"Europe": "EMEA"}).send("syncLead", params)
        assert rest.soap.lead(out["leadId"])["partition"] == "EMEA"
    assert retry.decide(caught.value, REGISTRY["syncLead"].idempotent) == retry.FAIL


# -- getLead ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key_type", "value"), [
    ("IDNUM", "1"), ("EMAIL", "dup@example.com"), ("SFDCLEADID", "00QB"), ("COOKIE", ADA_COOKIE),
])
def test_get_lead_gives_what_soaps_reader_gives(tmp_path, key_type, value):
    with rest_box(tmp_path) as rest:
        over_rest = session(rest.info).send("getLead", {
            "leadKey": {"keyType": key_type, "keyValue": value}})
        over_soap = soap(rest, "getLead", lead_key(key_type, value.replace("&", "&amp;")))
    assert over_rest == over_soap
    assert over_rest["count"] == len(over_rest["leadRecordList"]) >= 1


def test_get_lead_not_found_fails_the_call_as_soaps_20103_does(tmp_path):
    with rest_box(tmp_path) as rest:
        with pytest.raises(RestError) as caught:
            session(rest.info).send("getLead", {
                "leadKey": {"keyType": "EMAIL", "keyValue": "nobody@example.com"}})
        with pytest.raises(RestError):
            session(rest.info).send("getLead", {"leadKey": {"keyType": "IDNUM", "keyValue": 99}})
        status, reply = Client(rest.info).post(Client(rest.info).envelope(
            f"<ns1:paramsGetLead>{lead_key('EMAIL', 'nobody@example.com')}</ns1:paramsGetLead>"))
    soap_fault = fault(body_element(reply), status)
    assert isinstance(soap_fault, SoapFaultError) and soap_fault.code == 20103
    assert caught.value.message == "No lead found with EMAIL = nobody@example.com"
    idempotent = REGISTRY["getLead"].idempotent
    assert retry.decide(caught.value, idempotent) == retry.decide(soap_fault, idempotent) == (
        retry.FAIL)


def test_get_lead_asks_for_every_field_a_soap_record_can_carry(tmp_path):
    with rest_box(tmp_path) as rest:
        wire = Recording()
        session(rest.info, wire).send("getLead", {"leadKey": {"keyType": "IDNUM", "keyValue": 1}})
    fields = wire.api()[-1].query["fields"][0].split(",")
    assert {"email", "firstName", "sicCode", "dateOfBirth", "contactCompany", "nickname",
            "Member_Number__c"} <= set(fields)
    assert "personTimeZone" not in fields and "createdAt" not in fields  # REST only


# -- requestCampaign ------------------------------------------------------------------------------


def test_request_campaign_by_id_triggers_it_with_the_ids(tmp_path):
    with rest_box(tmp_path) as rest:
        out = session(rest.info).send("requestCampaign", {"campaignId": 1,
                                                          "leadList": by_ids([2, 1, 2])})
        (run,) = rest.runs()
        assert count(rest.info, "rest.getCampaigns") == 0
    assert out == {"success": True}
    assert (run["campaign_id"], run["lead_ids"], run["kind"]) == (1, [2, 1], "request")


def test_request_campaign_by_names_looks_the_campaign_up_once_per_run(tmp_path):
    params = {"programName": "Tests", "campaignName": "Go",
              "leadList": [{"keyType": "EMAIL", "keyValue": "dup@example.com"},
                           {"keyType": "IDNUM", "keyValue": 1},
                           {"keyType": "EMAIL", "keyValue": "nobody@example.com"}],
              "programTokenList": {"my.greeting": "Hi there"}}
    with rest_box(tmp_path) as rest:
        api = session(rest.info)
        assert api.send("requestCampaign", params) == {"success": True}
        assert api.send("requestCampaign", params) == {"success": True}
        assert api.send("requestCampaign", {**params, "programName": "Other",
                                            "programTokenList": {}}) == {"success": True}
        assert count(rest.info, "rest.getCampaigns") == 2  # Tests/Go once, Other/Go once
        assert count(rest.info, "rest.getLeadsByFilter") == 3  # one per call, EMAIL keys
        Client(rest.info).call("requestCampaign", (
            "<source>MKTOWS</source><leadList>"
            + "".join(f"<leadKey><keyType>{k['keyType']}</keyType><keyValue>{k['keyValue']}"
                      "</keyValue></leadKey>" for k in params["leadList"])
            + "</leadList><programName>Tests</programName><campaignName>Go</campaignName>"
            "<programTokenList><attrib><name>{{my.greeting}}</name><value>Hi there</value>"
            "</attrib></programTokenList>"))
        rest_run, _, other, soap_run = rest.runs()
    same = ("campaign_id", "program_name", "campaign_name", "tokens", "effective_tokens")
    assert {k: rest_run[k] for k in same} == {k: soap_run[k] for k in same}
    assert sorted(rest_run["lead_ids"]) == sorted(soap_run["lead_ids"]) == [1, 3, 4]
    assert other["campaign_id"] == 5


def test_request_campaign_whose_keys_match_nobody_requests_nothing(tmp_path):
    with rest_box(tmp_path) as rest:
        with pytest.raises(RestError, match="none of the 1 lead key") as caught:
            session(rest.info).send("requestCampaign", {"campaignId": 1, "leadList": [
                {"keyType": "EMAIL", "keyValue": "nobody@example.com"}]})
        assert count(rest.info, "rest.triggerCampaign") == 0
    assert retry.decide(caught.value, REGISTRY["requestCampaign"].idempotent) == retry.FAIL


def test_a_campaign_name_that_is_not_there_suggests_the_programs_campaigns(tmp_path):
    with rest_box(tmp_path) as rest:
        api = session(rest.info)
        with pytest.raises(RestError, match=r"'Nightly' .*batch campaign"):
            api.send("requestCampaign", {"programName": "Tests", "campaignName": "Nightly",
                                         "leadList": by_ids([1])})
        with pytest.raises(RestError, match="did you mean 'Paused'") as caught:
            api.send("requestCampaign", {"programName": "Tests", "campaignName": "Pausd",
                                         "leadList": by_ids([1])})
        assert rest.runs() == []
    assert caught.value.code == 1013


def test_more_than_100_resolved_leads_are_refused_before_the_trigger(tmp_path):
    with rest_box(tmp_path) as rest:
        api = session(rest.info)
        with pytest.raises(RestError, match="at most 100"):
            api.send("requestCampaign", {"campaignId": 1, "leadList": by_ids(range(1, 102))})
        assert count(rest.info, "rest.triggerCampaign") == 0


# -- scheduleCampaign ------------------------------------------------------------------------------


def test_schedule_campaign_sends_run_at_tokens_and_clone(tmp_path):
    clock = FakeClock()
    with rest_box(tmp_path, clock=clock) as rest:
        api = session(rest.info, now=clock)
        base = {"programName": "Tests", "campaignName": "Nightly"}
        later = (clock.now + timedelta(days=1)).astimezone().isoformat(timespec="seconds")
        soon = (clock.now + timedelta(minutes=1)).isoformat()
        assert api.send("scheduleCampaign", {
            **base, "campaignRunAt": later,
            "programTokenList": {"my.greeting": "Evening"}}) == {"success": True}
        assert api.send("scheduleCampaign", {**base, "campaignRunAt": soon}) == {
            "success": True}
        assert api.send("scheduleCampaign", {**base, "cloneToProgramName": "Tests Copy"}) == {
            "success": True}
        first, second, cloned = rest.runs()
        assert count(rest.info, "rest.getCampaigns") == 1
    assert first["run_at"] == (clock.now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first["tokens"] == {"{{my.greeting}}": "Evening"}
    # Sooner than Marketo's 5 minutes: runAt left out, the run starts 5 minutes after the call.
    assert second["run_at"] == (clock.now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cloned["clone_to_program_name"] == "Tests Copy"


def test_schedule_campaign_refuses_before_sending_what_marketo_would_refuse(tmp_path):
    clock = FakeClock()
    with rest_box(tmp_path, clock=clock) as rest:
        api = session(rest.info, now=clock, clone_limit=1)
        base = {"programName": "Tests", "campaignName": "Nightly"}
        far = (clock.now + timedelta(days=3 * 365)).isoformat()
        with pytest.raises(RestError) as too_far:
            api.send("scheduleCampaign", {**base, "campaignRunAt": far})
        api.send("scheduleCampaign", {**base, "cloneToProgramName": "Copy 1"})
        with pytest.raises(RestError) as clones:
            api.send("scheduleCampaign", {**base, "cloneToProgramName": "Copy 2"})
        assert count(rest.info, "rest.scheduleCampaign") == 1
    assert too_far.value.code == 1042 and clones.value.code == 1020
    assert retry.decide(clones.value, REGISTRY["scheduleCampaign"].idempotent) == retry.FAIL


# -- getCampaignsForSource --------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "children"), [
    ({}, ""),
    ({"name": "g"}, "<name>g</name>"),
    ({"name": "Go", "exactName": True}, "<name>Go</name><exactName>true</exactName>"),
])
def test_get_campaigns_for_source_is_paged_to_the_end_and_gives_soaps_outputs(tmp_path, params,
                                                                            children):
    with rest_box(tmp_path) as rest:
        over_rest = session(rest.info, page_size=1).send("getCampaignsForSource", params)
        over_soap = soap(rest, "getCampaignsForSource", "<source>MKTOWS</source>" + children)
        pages = count(rest.info, "rest.getCampaigns")
    assert over_rest == over_soap
    assert over_rest["returnCount"] == 2 and pages == 2


# -- plan-time facts -----------------------------------------------------------------------------


def findings(operation: str, params: dict[str, Any], **settings: Any) -> list[tuple[Any, ...]]:
    rest = operations.get(operation).rest
    assert rest is not None
    return list(rest.unsupported(params, RestSettings(**settings)))


def test_what_rest_cannot_do_is_a_load_time_finding_with_a_way_out():
    found = findings("syncLead", {"leadRecord": {"ForeignSysPersonId": "1",
                                                 "ForeignSysType": "SFDC"},
                                  "moveCookie": True, "targetWorkspace": "Europe"},
                     partitions={"Default": "Default"})
    assert [f[0] for f in found] == [("leadRecord", "ForeignSysPersonId"), ("moveCookie",),
                                     ("targetWorkspace",)]
    assert all(hint for _, _, hint in found)
    assert findings("syncLead", {"leadRecord": {"ForeignSysPersonId": "1"}},
                    foreign_id_field="erpId__c") == []
    assert findings("syncLead", {"leadRecord": {"Email": "a@x.com"},
                                 "targetWorkspace": "Europe"}) == []  # no map: same name
    assert [f[0] for f in findings("syncMultipleLeads", {"leadRecordList": [
        {"Email": "a@x.com"}, {"ForeignSysPersonId": "2"}]})] == [
        ("leadRecordList", 1, "ForeignSysPersonId")]
    assert [f[0] for f in findings("requestCampaign", {"source": "SALES", "leadList": [
        {"keyType": "EMAIL", "keyValue": "a"}, {"keyType": "LEADOWNEREMAIL", "keyValue": "b"}]}
    )] == [("source",), ("leadList", 1, "keyType")]
    assert [f[0] for f in findings("getLead", {"leadKey": {"keyType": "LEADOWNEREMAIL",
                                                           "keyValue": "o@x.com"}})] == [
        ("leadKey", "keyType")]
    assert [f[0] for f in findings("getCampaignsForSource", {"source": "SALES"})] == [
        ("source",)]
    assert [f[0] for f in findings("scheduleCampaign", {
        "programName": "P", "campaignName": "C",
        "campaignRunAt": "2099-01-01T00:00:00+00:00"})] == [("campaignRunAt",)]


def test_the_rest_calls_each_call_costs_for_plan_and_quota():
    def cost(operation: str, params: dict[str, Any]) -> tuple[int, frozenset[str]]:
        rest = operations.get(operation).rest
        assert rest is not None
        return rest.calls(params), rest.once(params)

    assert cost("syncLead", {"leadRecord": {"Email": "a"}}) == (1, frozenset())
    assert cost("syncLead", {"leadRecord": {"Email": "a", "leadAttributeList": {"A": 1}},
                             "returnLead": True, "marketoCookie": "c",
                             "targetWorkspace": "W"}) == (3, {"describe", "partitions"})
    assert cost("syncMultipleLeads", {"leadRecordList": [
        {"Email": "a"}, {"Id": 1}, {"ForeignSysPersonId": "f"}, {"Email": "b"}]})[0] == 3
    assert cost("syncMultipleLeads", {"leadRecordList": []})[0] == 0
    assert cost("requestCampaign", {"campaignId": 1, "leadList": by_ids([1])}) == (
        1, frozenset())
    assert cost("requestCampaign", {"programName": "P", "campaignName": "C", "leadList": [
        {"keyType": "EMAIL", "keyValue": "a"}, {"keyType": "COOKIE", "keyValue": "c"},
        {"keyType": "EMAIL", "keyValue": "b"}]}) == (3, {"campaign:P/C"})
    assert cost("scheduleCampaign", {"programName": "P", "campaignName": "C"}) == (
        1, {"campaign:P/C"})
    assert cost("getLead", {"leadKey": {"keyType": "EMAIL", "keyValue": "a"}}) == (
        1, {"describe"})
    assert cost("getCampaignsForSource", {}) == (1, frozenset())


def test_the_fields_a_call_writes_are_listed_for_the_check_before_the_first_write():
    rest = operations.get("syncMultipleLeads").rest
    assert rest is not None
    listed = list(rest.fields({"leadRecordList": [
        {"Email": "a", "leadAttributeList": {"FirstName": "A"}},
        {"Email": "b", "leadAttributeList": [{"attrName": "SICCode", "attrValue": "1"}]}]}))
    assert listed == [(("leadRecordList", 0, "leadAttributeList", "FirstName"), "FirstName"),
                      (("leadRecordList", 1, "leadAttributeList", 0, "attrName"), "SICCode")]


def test_sandbox_store_is_untouched_by_a_refused_write(tmp_path):
    with rest_box(tmp_path) as rest:
        with pytest.raises(RestError):
            session(rest.info).send("syncLead", {"leadRecord": {
                "Email": "z@example.com", "leadAttributeList": {"Unknown Field": "x"}}})
        with open_store(rest.info.db_path) as store:
            assert len(store.leads()) == 4
