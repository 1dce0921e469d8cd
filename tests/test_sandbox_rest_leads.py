"""Lead endpoints over REST (marketo-rest-reference.md §3.1-§3.3, §3.9, §9.4-§9.6): Describe
with both APIs' names, Describe2, partitions, Sync Leads with every record-level reason,
and Get Leads by filter and by id with fields, nulls and paging tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_sandbox import FIXTURES
from tests.test_sandbox_rest import Rest, failure, ok, serving_rest

LEADS = "/rest/v1/leads.json"
ADA_COOKIE = "id:123-ABC-456&token:_mch-example.com-1-11"


@pytest.fixture
def rest(tmp_path: Path) -> Iterator[Rest]:
    with serving_rest(tmp_path) as client:
        yield client


def skip(code: int, message: str) -> dict[str, Any]:
    return {"status": "skipped", "reasons": [{"code": str(code), "message": message}]}


def by_email(rest: Rest, email: str, fields: str = "email,firstName") -> list[dict[str, Any]]:
    return list(rest.get(LEADS, filterType="email", filterValues=email, fields=fields)["result"])


# -- describe ------------------------------------------------------------------------------


def test_describe_gives_both_names_from_the_fixture(rest: Rest) -> None:
    fields = {f["rest"]["name"]: f for f in rest.get("/rest/v1/leads/describe.json")["result"]}
    assert fields["sicCode"] == {"id": fields["sicCode"]["id"], "displayName": "SIC Code",
                                 "dataType": "string", "length": 255,
                                 "rest": {"name": "sicCode", "readOnly": False},
                                 "soap": {"name": "SICCode", "readOnly": False}}
    assert fields["dateOfBirth"]["soap"] == {"name": "DateofBirth", "readOnly": False}
    assert "length" not in fields["dateOfBirth"]
    assert fields["contactCompany"]["rest"] == {"name": "contactCompany", "readOnly": True}
    assert fields["contactCompany"]["soap"] == {"name": "Contact Company", "readOnly": False}
    assert fields["email"]["soap"]["name"] == "Email"
    assert fields["Member_Number__c"]["soap"]["name"] == "Member_Number__c"  # custom: as is
    assert (fields["nickname"]["displayName"], fields["nickname"]["soap"]["name"]) == (
        "Nick Name", "Nickname__c")
    for rest_only in ("createdAt", "updatedAt", "cookies", "leadPartitionId", "id",
                      "personTimeZone"):
        assert "soap" not in fields[rest_only], rest_only
    assert fields["createdAt"]["rest"]["readOnly"] is True
    ids = [f["id"] for f in fields.values()]
    assert len(set(ids)) == len(ids)


def test_describe_can_answer_without_soap_names(tmp_path: Path) -> None:
    # Reference §10 q1: a client's fallback for the day describe drops them.
    with serving_rest(tmp_path, rest_describe_soap_names=False) as rest:
        result = rest.get("/rest/v1/leads/describe.json")["result"]
        assert result and not any("soap" in f for f in result)


def test_describe2_lists_searchable_and_updateable_fields(rest: Rest) -> None:
    (lead,) = rest.get("/rest/v1/leads/describe2.json")["result"]
    assert lead["name"] == "API Lead"
    searchable = [names[0] for names in lead["searchableFields"]]
    assert set(searchable) == {"id", "email", "cookies", "leadPartitionId", "sfdcLeadId",
                               "Member_Number__c", "nickname"}
    fields = {f["name"]: f for f in lead["fields"]}
    assert fields["firstName"] == {"name": "firstName", "displayName": "First Name",
                                   "dataType": "string", "length": 255, "updateable": True,
                                   "crmManaged": False}
    assert fields["updatedAt"]["updateable"] is False


def test_partitions_number_default_first(tmp_path: Path) -> None:
    with serving_rest(tmp_path, FIXTURES / "rest_partitions.yml") as rest:
        assert rest.get("/rest/v1/leads/partitions.json")["result"] == [
            {"id": 1, "name": "Default", "description": "Initial system lead partition"},
            {"id": 2, "name": "EMEA", "description": ""},
            {"id": 3, "name": "Shared", "description": ""},
            {"id": 4, "name": "AMER", "description": ""}]


# -- Sync Leads ----------------------------------------------------------------------------


def test_sync_creates_and_updates_in_input_order(rest: Rest) -> None:
    assert rest.sync({"email": "new@example.com", "firstName": "New"},
                     {"email": "bob@example.com", "lastName": "Builder"}) == [
        {"id": 5, "status": "created"}, {"id": 2, "status": "updated"}]
    bob = rest.leads()[1]
    assert bob["attributes"] == {"FirstName": "Bob", "SFDCLeadId": "00QB",
                                 "LastName": "Builder"}


def test_sync_record_reasons(rest: Rest) -> None:
    post = rest.post(LEADS, {"input": [
        {"email": "a1@example.com", "numberOfEmployees": "14.1"},
        {"email": "a2@example.com", "Newsletter_Opt_In__c": "other"},
        {"email": "bademail"},
        {"email": "a3@example.com", "annualRevenue": "14c"},
        {"email": "a4@example.com", "LastVisit": "yesterday"},
        {"email": "a5@example.com", "FirstName": "Soap name"},
        {"email": "dup@example.com", "firstName": "Third"},
        {"firstName": "No key"},
        {"email": "a6@example.com", "updatedAt": "2026-01-01T00:00:00Z"},
        {"email": "a7@example.com", "dateOfBirth": "12/28/1969"},
        {"email": "ä@example.com"},
    ]})
    assert post["result"] == [
        skip(1003, "Invalid value for field 'numberOfEmployees' and value '14.1'"),
        skip(1003, "Invalid value for field 'Newsletter_Opt_In__c' and value 'other'"),
        skip(1003, "Invalid value for field 'email' and value 'bademail'"),
        skip(1003, "Invalid value for field 'annualRevenue' and value '14c'"),
        skip(1003, "Invalid value for field 'LastVisit' and value 'yesterday'"),
        skip(1006, "Field 'FirstName' not found"),
        skip(1007, "Multiple lead match lookup criteria"),
        skip(1002, "Missing value for the required parameter 'email'"),
        skip(1003, "Invalid data: field 'updatedAt' is read-only"),
        skip(1003, "Invalid value for field 'dateOfBirth' and value '12/28/1969'"),
        skip(1003, "Invalid value for field 'email' and value 'ä@example.com'"),
    ]
    assert len(rest.leads()) == 4  # nothing written


def test_lead_partition_id_is_read_only_over_sync(rest: Rest) -> None:
    assert rest.sync({"email": "p@example.com", "leadPartitionId": 1}) == [
        skip(1003, "Invalid data: field 'leadPartitionId' is read-only")]


def test_sync_actions(rest: Rest) -> None:
    assert rest.sync({"email": "ada@example.com"}, {"email": "eve@example.com"},
                     action="createOnly") == [skip(1005, "Lead already exists"),
                                              {"id": 5, "status": "created"}]
    assert rest.sync({"email": "nobody@example.com"},
                     {"email": "ada@example.com", "lastName": "Lovelace"},
                     action="updateOnly") == [skip(1004, "Lead not found"),
                                              {"id": 1, "status": "updated"}]
    assert rest.sync({"email": "ada@example.com"}, action="createDuplicate") == [
        {"id": 6, "status": "created"}]
    # id is the key of updateOnly only.
    assert rest.sync({"id": 2, "firstName": "Robert"}, action="updateOnly",
                     lookupField="id") == [{"id": 2, "status": "updated"}]
    assert rest.sync({"id": 2, "email": "bob@example.com"}) == [
        skip(1003, "Invalid data: id is only allowed with updateOnly")]
    assert rest.sync({"id": 99}, action="updateOnly", lookupField="id") == [
        skip(1004, "Lead not found")]


def test_sync_by_another_lookup_field(rest: Rest) -> None:
    assert rest.sync({"sfdcLeadId": "00QB", "lastName": "B"}, lookupField="sfdcLeadId") == [
        {"id": 2, "status": "updated"}]
    assert rest.sync({"Member_Number__c": 7, "lastName": "L"},
                     lookupField="Member_Number__c") == [{"id": 1, "status": "updated"}]
    assert rest.sync({"email": "x@example.com", "firstName": "X"}, lookupField="firstName") == [
        skip(1011, "Field 'firstName' not supported")]
    assert rest.sync({"email": "x@example.com"}, lookupField="noSuchField") == [
        skip(1006, "Field 'noSuchField' not found")]


def test_sync_stores_values_the_way_soap_does(rest: Rest) -> None:
    (created,) = rest.sync({"email": "t@example.com", "Newsletter_Opt_In__c": True,
                            "numberOfEmployees": 12, "annualRevenue": 1.5,
                            "LastVisit": "2026-06-01T10:00:00Z", "cookies": ADA_COOKIE})
    lead = rest.leads()[-1]
    assert lead["attributes"] == {"Newsletter_Opt_In__c": "true", "NumberOfEmployees": "12",
                                  "AnnualRevenue": "1.5", "LastVisit": "2026-06-01T10:00:00Z"}
    assert lead["cookie"] == ADA_COOKIE and rest.leads()[0]["cookie"] is None  # moved
    assert rest.get(f"/rest/v1/lead/{created['id']}.json",
                    fields="Newsletter_Opt_In__c,numberOfEmployees,annualRevenue,cookies"
                    )["result"] == [{"id": created["id"], "Newsletter_Opt_In__c": True,
                                     "numberOfEmployees": 12, "annualRevenue": 1.5,
                                     "cookies": ADA_COOKIE}]
    # null clears a field.
    rest.sync({"email": "t@example.com", "numberOfEmployees": None})
    assert "NumberOfEmployees" not in {k for k, v in rest.leads()[-1]["attributes"].items() if v}


@pytest.mark.parametrize(("body", "code", "message"), [
    ({}, "1002", "Missing value for the required parameter 'input'"),
    ({"input": []}, "701", "input cannot be blank"),
    ({"input": {"email": "x"}}, "1003", "Invalid data: input must be a list of leads"),
    ({"action": "upsert", "input": [{"email": "x@example.com"}]}, "1003",
     "Invalid data: action 'upsert' is not one of createOrUpdate, createOnly, updateOnly,"
     " createDuplicate"),
    ({"input": [{"email": f"m{i}@example.com"} for i in range(301)]}, "1003",
     "Invalid data: more than 300 records in input"),
    ({"partitionName": "Nowhere", "input": [{"email": "x@example.com"}]}, "1003",
     "Invalid data: no lead partition named 'Nowhere'"),
    ({"action": "updateOnly", "partitionName": "Default", "input": [{"email": "x@e.com"}]},
     "1003", "Invalid data: partitionName is only allowed with createOnly or createOrUpdate"),
])
def test_sync_response_level_errors(rest: Rest, body: dict[str, Any], code: str,
                                    message: str) -> None:
    assert failure(rest.request("POST", LEADS, json=body)) == {"code": code, "message": message}
    assert len(rest.leads()) == 4


def test_sync_of_300_records_is_allowed(rest: Rest) -> None:
    result = rest.sync(*({"email": f"m{i}@example.com"} for i in range(300)))
    assert [r["status"] for r in result] == ["created"] * 300


def test_sync_with_partitions(tmp_path: Path) -> None:
    with serving_rest(tmp_path, FIXTURES / "rest_partitions.yml") as rest:
        assert rest.sync({"email": "fr@example.com", "country": "FR"},
                         {"email": "plain@example.com"},
                         {"email": "named@example.com"}) == [
            {"id": 3, "status": "created"}, {"id": 4, "status": "created"},
            {"id": 5, "status": "created"}]
        assert [x["partition"] for x in rest.leads()[2:]] == ["EMEA", "Default", "Default"]
        assert rest.sync({"email": "amer@example.com"}, partitionName="AMER") == [
            {"id": 6, "status": "created"}]
        assert rest.sync({"email": "eu@example.com", "firstName": "E"},
                         partitionName="AMER") == [skip(1010, "Partition update not allowed")]
        assert rest.sync({"email": "eu@example.com", "firstName": "E"},
                         partitionName="emea") == [{"id": 1, "status": "updated"}]
        got = rest.get(LEADS, filterType="leadPartitionId", filterValues="4",
                       fields="email,leadPartitionId")["result"]
        assert got == [{"id": 2, "email": "us@example.com", "leadPartitionId": 4},
                       {"id": 6, "email": "amer@example.com", "leadPartitionId": 4}]


def test_async_processing_does_the_work_but_reports_no_outcome(rest: Rest) -> None:
    assert rest.sync({"email": "q@example.com"}, {"email": "ada@example.com"},
                     asyncProcessing=True) == [{"status": "queued"}, {"status": "queued"}]
    assert by_email(rest, "q@example.com", "email") == [{"id": 5, "email": "q@example.com"}]


# -- Get Leads -----------------------------------------------------------------------------


def test_get_leads_default_fields_and_nulls(rest: Rest) -> None:
    (bob,) = rest.get(LEADS, filterType="email", filterValues="bob@example.com")["result"]
    assert set(bob) == {"id", "email", "updatedAt", "createdAt", "firstName", "lastName"}
    assert (bob["id"], bob["firstName"], bob["lastName"]) == (2, "Bob", None)
    assert bob["createdAt"].endswith("Z") and "." not in bob["createdAt"]


def test_get_leads_by_several_values_and_key_types(rest: Rest) -> None:
    assert by_email(rest, "dup@example.com,ADA@example.com,none@example.com") == [
        {"id": 1, "email": "ada@example.com", "firstName": "Ada"},
        {"id": 3, "email": "dup@example.com", "firstName": "First"},
        {"id": 4, "email": "dup@example.com", "firstName": "Second"}]
    assert rest.get(LEADS, filterType="id", filterValues="2,4,99",
                    fields="firstName")["result"] == [{"id": 2, "firstName": "Bob"},
                                                      {"id": 4, "firstName": "Second"}]
    assert rest.get(LEADS, filterType="cookies", filterValues=ADA_COOKIE,
                    fields="email")["result"] == [{"id": 1, "email": "ada@example.com"}]
    assert rest.get(LEADS, filterType="Member_Number__c", filterValues="7",
                    fields="email")["result"] == [{"id": 1, "email": "ada@example.com"}]
    nothing = rest.get(LEADS, filterType="email", filterValues="none@example.com")
    assert nothing == {"requestId": nothing["requestId"], "result": [], "success": True}


def test_get_leads_pages_with_next_page_token(rest: Rest) -> None:
    rest.sync(*({"email": "page@example.com", "firstName": str(i)} for i in range(5)),
              action="createDuplicate")
    seen, token, pages = [], None, 0
    while pages < 10:
        query = {"filterType": "email", "filterValues": "page@example.com",
                 "fields": "firstName", "batchSize": 2}
        body = rest.get(LEADS, **query, **({"nextPageToken": token} if token else {}))
        assert "moreResult" not in body
        seen += [r["firstName"] for r in body["result"]]
        pages += 1
        token = body.get("nextPageToken")
        if token is None:
            break
    assert (seen, pages) == (["0", "1", "2", "3", "4"], 3)


@pytest.mark.parametrize(("query", "code", "message"), [
    ({"filterValues": "a@example.com"}, "1002",
     "Missing value for the required parameter 'filterType'"),
    ({"filterType": "email"}, "1002", "Missing value for the required parameter 'filterValues'"),
    ({"filterType": "email", "filterValues": ""}, "701", "filterValues cannot be blank"),
    ({"filterType": "createdAt", "filterValues": "2026-01-01"}, "1011",
     "Lookup field 'createdAt' not supported"),
    ({"filterType": "firstName", "filterValues": "Ada"}, "1011",
     "Lookup field 'firstName' not supported"),
    ({"filterType": "cookies", "filterValues": "not-a-cookie"}, "1012",
     "Invalid cookie value 'not-a-cookie'"),
    ({"filterType": "email", "filterValues": "a@example.com", "fields": "email,FirstName"},
     "1006", "Field 'FirstName' not found"),
    ({"filterType": "email", "filterValues": ",".join(f"{i}@x.com" for i in range(301))},
     "1003", "Invalid data: more than 300 filterValues"),
    ({"filterType": "email", "filterValues": "a@example.com", "batchSize": "301"}, "1003",
     "Invalid batchSize '301': 1 to 300"),
    ({"filterType": "email", "filterValues": "a@example.com", "nextPageToken": "garbled"},
     "1003", "Invalid nextPageToken 'garbled'"),
    ({"filterType": "id", "filterValues": "abc"}, "1001",
     "Invalid value 'abc'. Required of type 'integer'"),
])
def test_get_leads_errors(rest: Rest, query: dict[str, str], code: str, message: str) -> None:
    assert failure(rest.request("GET", LEADS, params=query)) == {"code": code,
                                                                 "message": message}


def test_a_token_from_another_query_is_refused(rest: Rest) -> None:
    rest.sync(*({"email": "p@example.com"} for _ in range(3)), action="createDuplicate")
    token = rest.get(LEADS, filterType="email", filterValues="p@example.com",
                     batchSize=1)["nextPageToken"]
    assert rest.error("GET", LEADS, params={"filterType": "email", "filterValues":
                                            "q@example.com", "nextPageToken": token}) == "1003"


def test_more_than_1000_matches_is_1003(rest: Rest) -> None:
    for _ in range(4):
        rest.sync(*({"email": "many@example.com"} for _ in range(251)), action="createDuplicate")
    assert failure(rest.request("GET", LEADS, params={
        "filterType": "email", "filterValues": "many@example.com"})) == {
        "code": "1003", "message": "Too many results match the filter"}


def test_get_lead_by_id(rest: Rest) -> None:
    assert rest.get("/rest/v1/lead/2.json", fields="email,sfdcLeadId")["result"] == [
        {"id": 2, "email": "bob@example.com", "sfdcLeadId": "00QB"}]
    assert ok(rest.request("GET", "/rest/v1/lead/99.json"))["result"] == []
