"""syncLead, syncMultipleLeads and getLead: matching precedence, keys, statuses, lookups.

Most tests start from tests/data/sandbox/leads.yml, whose seed leads are, in id order:
1 ada@ (CUSTOM:F-ADA, cookie ck-ada), 2 bob@, 3 anonymous (cookie ck-anon), 4 and 5 both
dup@, 6 sf@ (owner and SFDC ids).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_sandbox import FIXTURES, NIL, Client, lead_key, lead_xml, serving

SEEDED = FIXTURES / "leads.yml"
NEXT_ID = 7  # the first lead a test creates


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Client]:
    with serving(tmp_path, SEEDED, strict=True) as client:  # the doc's rules, keys required
        yield client


def _record(children: str) -> str:
    return f"<leadRecord>{children}</leadRecord>"


FOREIGN = "<ForeignSysPersonId>{}</ForeignSysPersonId><ForeignSysType>{}</ForeignSysType>"

# (case, syncLead children before returnLead, marketoCookie and moveCookie, expected
#  (lead id, status) or fault code, expected fields of leads afterwards)
PRECEDENCE: list[tuple[str, str, str, tuple[int, str] | int, dict[int, dict[str, Any]]]] = [
    ("Id alone", "<Id>2</Id>", "", (2, "UPDATED"), {2: {"email": "bob@example.com"}}),
    ("Id beats Email, and the Email is updated", "<Id>2</Id><Email>new@example.com</Email>", "",
     (2, "UPDATED"), {2: {"email": "new@example.com"}}),
    ("Id beats the foreign id, which moves to the Id's lead",
     "<Id>2</Id>" + FOREIGN.format("F-ADA", "CUSTOM"), "", (2, "UPDATED"),
     {2: {"foreign_sys_person_id": "F-ADA"}, 1: {"foreign_sys_person_id": None}}),
    ("Id beats the cookie, which stays where it is without moveCookie", "<Id>2</Id>",
     "<marketoCookie>ck-ada</marketoCookie>", (2, "UPDATED"),
     {1: {"cookie": "ck-ada"}, 2: {"cookie": None}}),
    ("with moveCookie the cookie moves to the Id's lead", "<Id>2</Id>",
     "<marketoCookie>ck-ada</marketoCookie><moveCookie>true</moveCookie>", (2, "UPDATED"),
     {1: {"cookie": None}, 2: {"cookie": "ck-ada"}}),
    ("foreign id alone", FOREIGN.format("F-ADA", "CUSTOM"), "", (1, "UPDATED"), {}),
    ("foreign id beats Email, and the Email is updated",
     "<Email>bob@example.com</Email>" + FOREIGN.format("F-ADA", "CUSTOM"), "", (1, "UPDATED"),
     {1: {"email": "bob@example.com"}, 2: {"email": "bob@example.com"}}),
    ("an unknown foreign id falls through to Email, which takes it",
     "<Email>bob@example.com</Email>" + FOREIGN.format("F-NEW", "SFDC"), "", (2, "UPDATED"),
     {2: {"foreign_sys_person_id": "F-NEW", "foreign_sys_type": "SFDC"}}),
    ("a foreign id is unique per foreign system type",
     "<Email>zed@example.com</Email>" + FOREIGN.format("F-ADA", "SFDC"), "",
     (NEXT_ID, "CREATED"), {1: {"foreign_sys_type": "CUSTOM"}, NEXT_ID: {
         "foreign_sys_person_id": "F-ADA", "foreign_sys_type": "SFDC"}}),
    ("an anonymous lead found by cookie becomes known", "<Email>carl@example.com</Email>",
     "<marketoCookie>ck-anon</marketoCookie>", (3, "UPDATED"),
     {3: {"email": "carl@example.com", "cookie": "ck-anon"}}),
    ("the cookie beats Email (Email is not unique)", "<Email>ada@example.com</Email>",
     "<marketoCookie>ck-anon</marketoCookie>", (3, "UPDATED"),
     {1: {"email": "ada@example.com"}, 3: {"email": "ada@example.com"}}),
    ("a cookie alone updates its anonymous lead", "", "<marketoCookie>ck-anon</marketoCookie>",
     (3, "UPDATED"), {3: {"email": None}}),
    ("an unknown cookie is given to the lead found by Email", "<Email>bob@example.com</Email>",
     "<marketoCookie>ck-new</marketoCookie>", (2, "UPDATED"), {2: {"cookie": "ck-new"}}),
    ("Email matches the oldest of several leads", "<Email>DUP@example.com</Email>", "",
     (4, "UPDATED"), {4: {"email": "dup@example.com"}}),
    ("a new Email creates a lead", "<Email>new@example.com</Email>", "", (NEXT_ID, "CREATED"),
     {NEXT_ID: {"email": "new@example.com", "partition": "Default"}}),
    ("an Id that does not exist", "<Id>99</Id><Email>ada@example.com</Email>", "", 20103, {}),
    ("a cookie alone never creates a lead", "", "<marketoCookie>ck-nobody</marketoCookie>",
     20101, {}),
    ("no key at all", "", "", 20101, {}),
    ("a foreign id needs its ForeignSysType",
     "<Email>x@example.com</Email><ForeignSysPersonId>F-X</ForeignSysPersonId>", "", 20109, {}),
]


@pytest.mark.parametrize(("record", "extra", "expected", "after"),
                         [p[1:] for p in PRECEDENCE], ids=[p[0] for p in PRECEDENCE])
def test_sync_lead_matching_precedence(seeded: Client, record: str, extra: str,
                                       expected: tuple[int, str] | int,
                                       after: dict[int, dict[str, Any]]) -> None:
    children = _record(record) + "<returnLead>false</returnLead>" + extra
    before = len(seeded.leads())
    if isinstance(expected, int):
        assert seeded.fault_code("syncLead", children) == str(expected)
        assert len(seeded.leads()) == before
        return
    result = seeded.call("syncLead", children)
    lead_id, status = expected
    assert (result.findtext("leadId"), result.findtext("syncStatus/status")) == (
        str(lead_id), status)
    assert result.findtext("syncStatus/leadId") == str(lead_id)
    assert result.find("syncStatus/error").get(NIL) == "true"  # type: ignore[union-attr]
    assert len(seeded.leads()) == before + (status == "CREATED")
    for other, fields in after.items():
        lead = seeded.lead(other)
        assert {k: lead[k] for k in fields} == fields


def test_sync_lead_creates_then_updates_the_same_lead(client: Client) -> None:
    first = client.sync("grace@example.com", {"FirstName": "Grace"})
    second = client.sync("grace@example.com", {"LastName": "Hopper"})
    assert first.findtext("syncStatus/status") == "CREATED"
    assert second.findtext("syncStatus/status") == "UPDATED"
    assert second.findtext("leadId") == first.findtext("leadId")
    (lead,) = client.leads()
    assert lead["attributes"] == {"FirstName": "Grace", "LastName": "Hopper"}


def test_return_lead_gives_the_full_record_typed_from_the_catalogue(client: Client) -> None:
    client.sync("alan@example.com", {"FirstName": "Alan", "Title": "Dr"})
    result = client.sync("alan@example.com", {"Website": "https://example.com",
                         "NumberOfEmployees": "12", "Title": ""}, return_lead=True)
    record = result.find("leadRecord")
    assert record is not None
    assert record.findtext("Id") == result.findtext("leadId")
    assert record.findtext("Email") == "alan@example.com"
    assert record.find("ForeignSysPersonId").get(NIL) == "true"  # type: ignore[union-attr]
    assert record.find("ForeignSysType").get(NIL) == "true"  # type: ignore[union-attr]
    attributes = [(a.findtext("attrName"), a.findtext("attrType"), a.findtext("attrValue"))
                  for a in record.iterfind("leadAttributeList/attribute")]
    # Catalogue order; the emptied Title is left out, as Marketo leaves empty strings out.
    assert attributes == [("FirstName", "string", "Alan"), ("Website", "url",
                          "https://example.com"), ("NumberOfEmployees", "integer", "12")]


def test_return_lead_shows_the_foreign_id(seeded: Client) -> None:
    record = seeded.sync(lead_id=1, return_lead=True).find("leadRecord")
    assert record is not None
    assert (record.findtext("ForeignSysPersonId"), record.findtext("ForeignSysType")) == (
        "F-ADA", "CUSTOM")


def test_an_unknown_attribute_is_fault_20105_and_nothing_is_stored(client: Client) -> None:
    children = lead_xml("x@example.com", {"pants": "blue", "FirstName": "X", "Shoes": "red"})
    assert client.fault("syncLead", children + "<returnLead>false</returnLead>") == {
        "faultcode": "SOAP-ENV:Client", "faultstring": "20105 - Unknown lead field",
        "name": "mktServiceException", "code": "20105",
        "message": "syncLead operation failed: unknown fields for import: pants, Shoes (20105)",
    }
    assert client.leads() == []


def test_attribute_names_are_case_sensitive(client: Client) -> None:
    children = lead_xml("x@example.com", {"firstname": "X"}) + "<returnLead>false</returnLead>"
    assert client.fault_code("syncLead", children) == "20105"


def test_custom_fields_from_the_catalogue_are_accepted(client: Client) -> None:
    client.sync("c@example.com", {"Favorite_Color__c": "teal", "Newsletter_Opt_In__c": "true"})
    assert client.leads()[0]["attributes"]["Favorite_Color__c"] == "teal"


# -- syncMultipleLeads --------------------------------------------------------------------


def _statuses(result: Any) -> list[tuple[str, str, str | None]]:
    return [(s.findtext("leadId") or "", s.findtext("status") or "",
             None if s.find("error").get(NIL) == "true" else s.findtext("error"))
            for s in result.iterfind("syncStatusList/syncStatus")]


def test_sync_multiple_leads_answers_each_record_in_input_order(seeded: Client) -> None:
    records = (lead_xml("new1@example.com") + lead_xml("bob@example.com")
               + lead_xml(lead_id=999) + "<leadRecord><leadAttributeList/></leadRecord>"
               + "<leadRecord><Email>f@example.com</Email><ForeignSysPersonId>F"
               "</ForeignSysPersonId></leadRecord>" + lead_xml(foreign="F-ADA"))
    result = seeded.call("syncMultipleLeads", f"<leadRecordList>{records}</leadRecordList>")
    statuses = _statuses(result)
    assert [s[:2] for s in statuses] == [
        (str(NEXT_ID), "CREATED"), ("2", "UPDATED"), ("999", "FAILED"), ("0", "FAILED"),
        ("0", "FAILED"), ("1", "UPDATED")]
    assert [s[2] is None for s in statuses] == [True, True, False, False, False, True]
    assert statuses[2][2] == "No lead found with IDNUM = 999 (20103)"
    assert (statuses[3][2] or "").endswith("(20101)")
    assert (statuses[4][2] or "").endswith("(20109)")
    assert len(seeded.leads()) == NEXT_ID


def test_sync_multiple_leads_does_not_update_the_email_of_a_lead_found_by_id(
        seeded: Client) -> None:
    records = lead_xml("changed@example.com", lead_id=2) + lead_xml(
        "ignored@example.com", {"Email": "attr@example.com"}, lead_id=4)
    seeded.call("syncMultipleLeads", f"<leadRecordList>{records}</leadRecordList>")
    assert seeded.lead(2)["email"] == "bob@example.com"
    assert seeded.lead(4)["email"] == "attr@example.com"  # unless it is also an attribute


@pytest.mark.parametrize(("dedup", "created"), [("", 0), ("<dedupEnabled>true</dedupEnabled>",
                         0), ("<dedupEnabled>false</dedupEnabled>", 2)])
def test_dedup_enabled_matches_on_email_and_is_on_by_default(seeded: Client, dedup: str,
                                                             created: int) -> None:
    records = lead_xml("bob@example.com") + lead_xml("ada@example.com") + lead_xml(
        foreign="F-ADA")
    result = seeded.call("syncMultipleLeads", f"<leadRecordList>{records}</leadRecordList>"
                         + dedup)
    assert [s[1] for s in _statuses(result)].count("CREATED") == created
    # dedupEnabled=false only turns off Email matching: a unique key still finds its lead
    assert _statuses(result)[2][:2] == ("1", "UPDATED")


def test_sync_multiple_leads_dedups_within_the_batch(client: Client) -> None:
    records = lead_xml("same@example.com", {"FirstName": "A"}) + lead_xml(
        "same@example.com", {"LastName": "B"})
    result = client.call("syncMultipleLeads", f"<leadRecordList>{records}</leadRecordList>")
    assert [s[:2] for s in _statuses(result)] == [("1", "CREATED"), ("1", "UPDATED")]


def test_an_unknown_attribute_in_one_record_faults_the_whole_batch(client: Client) -> None:
    records = lead_xml("ok@example.com") + lead_xml("bad@example.com", {"pants": "x"})
    code = client.fault_code("syncMultipleLeads", f"<leadRecordList>{records}</leadRecordList>")
    assert code == "20105"
    assert client.leads() == []


@pytest.mark.parametrize(("count", "expected"), [(300, None), (301, "20110")])
def test_a_batch_above_300_records_is_fault_20110(client: Client, count: int,
                                                  expected: str | None) -> None:
    records = "".join(f"<leadRecord><Email>l{i}@example.com</Email></leadRecord>"
                      for i in range(count))
    children = f"<leadRecordList>{records}</leadRecordList>"
    if expected:
        assert client.fault_code("syncMultipleLeads", children) == expected
        assert client.leads() == []
    else:
        assert len(_statuses(client.call("syncMultipleLeads", children))) == count


# -- getLead ------------------------------------------------------------------------------


def test_get_lead_for_an_unknown_email_is_fault_20103_with_marketos_message(
        client: Client) -> None:
    details = client.fault("getLead", lead_key("EMAIL", "pants@example.com"))
    assert details["faultstring"] == "20103 - Lead not found"
    assert details["message"] == "No lead found with EMAIL = pants@example.com (20103)"


@pytest.mark.parametrize(("key_type", "value", "expected"), [
    ("IDNUM", "2", [2]),
    ("EMAIL", "DUP@example.com", [4, 5]),  # Email is not unique; case does not matter
    ("COOKIE", "ck-anon", [3]),
    ("LEADOWNEREMAIL", "owner@example.com", [6]),
    ("SFDCACCOUNTID", "001A", [6]),
    ("SFDCCONTACTID", "003C", [6]),
    ("SFDCLEADID", "00QL", [6]),
    ("SFDCLEADOWNERID", "005O", [6]),
    ("SFDCOPPTYID", "006P", [6]),
])
def test_get_lead_finds_leads_by_every_key_type(seeded: Client, key_type: str, value: str,
                                                expected: list[int]) -> None:
    result = seeded.call("getLead", lead_key(key_type, value))
    assert result.findtext("count") == str(len(expected))
    ids = [int(r.findtext("Id") or 0) for r in result.iterfind("leadRecordList/leadRecord")]
    assert ids == expected


@pytest.mark.parametrize(("key_type", "value"), [("IDNUM", "42"), ("IDNUM", "abc"),
                         ("COOKIE", "nope"), ("SFDCLEADID", "none")])
def test_get_lead_with_no_match_is_fault_20103(seeded: Client, key_type: str,
                                               value: str) -> None:
    assert seeded.fault_code("getLead", lead_key(key_type, value)) == "20103"


@pytest.fixture
def client(sandbox: Any) -> Client:
    return Client(sandbox)
