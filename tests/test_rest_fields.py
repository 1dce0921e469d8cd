"""SOAP -> REST lead field names (runner/rest/fields.py) from the sandbox's Describe Lead:
irregular names (SICCode -> sicCode, DateofBirth -> dateOfBirth, a custom field with its own
REST name), a field REST cannot write, an unknown name, Describe asked once, and the shipped
fallback map when Describe gives no SOAP names. A refused field sends nothing.
"""

from __future__ import annotations

import pytest

from runner import retry
from runner.errors import RestError
from runner.operations import REGISTRY
from runner.rest.fields import FieldMap, RestFieldError, fallback
from tests.test_rest_client import Recording, count, rest_box, session

SYNC = "rest.syncLeads"


def test_soap_names_that_are_not_their_lower_cased_rest_names_are_mapped(tmp_path):
    with rest_box(tmp_path) as rest:
        wire = Recording()
        api = session(rest.info, wire)
        out = api.send("syncLead", {"leadRecord": {"Email": "irregular@example.com",
                                                   "leadAttributeList": {
                                                       "SICCode": "7372",
                                                       "DateofBirth": "1990-02-03",
                                                       "Nickname__c": "Ace"}}})
        stored = rest.get(f"/rest/v1/lead/{out['leadId']}.json",
                          fields="sicCode,dateOfBirth,nickname")["result"][0]
    assert out["status"] == "CREATED"
    assert (stored["sicCode"], stored["dateOfBirth"], stored["nickname"]) == (
        "7372", "1990-02-03", "Ace")
    sent = next(s for s in wire.api() if s.method == "POST")
    assert b'"sicCode":"7372"' in (sent.body or b"") and b"SICCode" not in (sent.body or b"")
    for soap, rest_name in (("SICCode", "sicCode"), ("DateofBirth", "dateOfBirth"),
                            ("Nickname__c", "nickname")):
        assert rest_name != soap[0].lower() + soap[1:]
        assert api.rest_field(soap, write=True) == rest_name


@pytest.mark.parametrize(("field", "words"), [
    ("Contact Company", ["'Contact Company'", "'contactCompany'", "read-only over REST"]),
    ("FavouriteColour", ["'FavouriteColour'", "no REST name"]),
    ("firstname", ["'firstname'", "no REST name"]),  # REST names are case-sensitive too
])
def test_a_field_rest_cannot_write_is_refused_by_name_before_anything_is_sent(tmp_path, field,
                                                                             words):
    with rest_box(tmp_path) as rest:
        api = session(rest.info)
        with pytest.raises(RestFieldError) as caught:
            api.send("syncMultipleLeads", {"leadRecordList": [
                {"Email": "fine@example.com", "leadAttributeList": {"FirstName": "Fine"}},
                {"Email": "bad@example.com", "leadAttributeList": {field: "x"}}]})
        assert count(rest.info, SYNC) == 0  # not even the first, valid record
    assert all(w in caught.value.message for w in words)
    assert isinstance(caught.value, RestError) and caught.value.code is None
    assert retry.decide(caught.value, REGISTRY["syncMultipleLeads"].idempotent) == retry.FAIL


def test_a_read_only_field_can_still_be_read(tmp_path):
    with rest_box(tmp_path) as rest:
        api = session(rest.info)
        assert api.rest_field("Contact Company", write=False) == "contactCompany"
        assert api.lead_fields()["contactCompany"] == "Contact Company"


def test_field_problems_lists_every_unusable_field_once(tmp_path):
    with rest_box(tmp_path) as rest:
        api = session(rest.info)
        problems = api.field_problems(["FirstName", "Contact Company", "Nope", "Nope",
                                       "personTimeZone"])
    assert len(problems) == 2
    assert "'Contact Company'" in problems[0] and "'Nope'" in problems[1]


def test_describe_is_asked_once_per_session(tmp_path):
    with rest_box(tmp_path) as rest:
        api = session(rest.info)
        for i in range(3):
            api.send("syncLead", {"leadRecord": {"Email": f"d{i}@example.com",
                                                 "leadAttributeList": {"FirstName": "D"}}})
        api.send("getLead", {"leadKey": {"keyType": "EMAIL", "keyValue": "d0@example.com"}})
        assert count(rest.info, "rest.describeLead") == 1


def test_without_soap_names_in_describe_the_shipped_map_stands_in(tmp_path):
    with rest_box(tmp_path, rest_describe_soap_names=False) as rest:
        api = session(rest.info)
        out = api.send("syncLead", {"leadRecord": {"Email": "fb@example.com",
                                                   "leadAttributeList": {
                                                       "SICCode": "1",
                                                       "DateofBirth": "2000-01-01",
                                                       "Newsletter_Opt_In__c": True}}})
        fields = api.fields.map
        assert out["status"] == "CREATED" and fields.from_fallback
        assert fields.to_rest["SICCode"] == "sicCode"
        assert fields.to_rest["Newsletter_Opt_In__c"] == "Newsletter_Opt_In__c"  # custom
        assert "personTimeZone" not in fields.to_soap  # REST only: no SOAP name to show
        with pytest.raises(RestFieldError, match="read-only"):
            api.rest_field("Contact Company", write=True)
        stored = rest.get(f"/rest/v1/lead/{out['leadId']}.json",
                          fields="sicCode,Newsletter_Opt_In__c")["result"][0]
        assert (stored["sicCode"], stored["Newsletter_Opt_In__c"]) == ("1", True)


def test_the_fallback_map_holds_the_irregular_standard_names():
    spare = fallback()
    assert spare.soap_to_rest["SICCode"] == "sicCode"
    assert spare.soap_to_rest["Lead Partition ID"] == "leadPartitionId"
    assert spare.soap_to_rest["FirstName"] == "firstName"
    assert {"contactCompany", "leadPerson"} <= spare.rest_read_only
    irregular = {s for s, r in spare.soap_to_rest.items() if r != s[0].lower() + s[1:]}
    assert len(irregular) == 9


def test_a_map_built_from_describe_takes_describes_word_over_the_fallback():
    described = [{"rest": {"name": "sicCode", "readOnly": False},
                  "soap": {"name": "SICCode", "readOnly": False}},
                 {"rest": {"name": "acmeScore", "readOnly": True},
                  "soap": {"name": "AcmeScore", "readOnly": False}},
                 {"rest": {"name": "createdAt", "readOnly": True}},
                 {"displayName": "no rest object"}]
    fields = FieldMap(described)
    assert not fields.from_fallback
    assert fields.rest_name("SICCode", write=True) == "sicCode"
    assert fields.rest_name("AcmeScore", write=False) == "acmeScore"
    acme, first, created = fields.problems(["AcmeScore", "FirstName", "createdAt"])
    assert "'AcmeScore' (REST 'acmeScore') is read-only" in acme
    assert "'FirstName' has no REST name" in first and "Describe Lead" in first
    assert "'createdAt' is read-only" in created
