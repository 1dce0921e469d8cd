"""Every envelope the runner builds is valid against the shipped WSDL, in the WSDL's order, and
(for what 2_2 already had) against Marketo's own 2_2 WSDL too."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from runner.operations import REGISTRY
from runner.resources import wsdl_path
from runner.soap import envelope, xsd
from runner.soap.namespaces import MKTOWS, SOAP_ENV
from tests.conftest import REFERENCE_WSDL


def build_body(schema, operation, params):
    """As the call generator builds a body: the operation's encoding, then the writer."""
    op = REGISTRY[operation]
    content = op.soap.encode(op.with_defaults(dict(params)))
    body, problems = envelope.build(schema, operation, content)
    return body.text, problems

FULL_PARAMS = {
    "syncLead": {
        "leadRecord": {"Email": "ada@example.com", "Id": 7, "ForeignSysPersonId": "X-1",
                       "ForeignSysType": "CUSTOM",
                       "leadAttributeList": {"FirstName": "Ada", "NumberOfEmployees": 50,
                                             "Country": "NO"}},
        "returnLead": True,
        "marketoCookie": "id:123-ABC-456&token:_mch-example",
    },
    "syncMultipleLeads": {
        "leadRecordList": [{"Email": f"lead{i}@example.com",
                            "leadAttributeList": [{"attrName": "FirstName", "attrValue": f"L{i}"}]}
                           for i in range(3)],
        "dedupEnabled": False,
    },
    "requestCampaign": {"programName": "Welcome Program", "campaignName": "Welcome Email",
                        "leadList": [{"keyType": "IDNUM", "keyValue": 12},
                                     {"keyType": "EMAIL", "keyValue": "a@example.com"}],
                        "programTokenList": {"my.message": "Hi", "{{my.other token}}": "x"}},
    "scheduleCampaign": {"programTokenList": [{"name": "{{my.message}}", "value": "Hello"}],
                         "campaignRunAt": "2026-12-01T09:00:00-06:00",
                         "campaignName": "Welcome Batch", "programName": "Welcome Program"},
    "getLead": {"leadKey": {"keyType": "EMAIL", "keyValue": "ada@example.com"}},
    "getCampaignsForSource": {"name": "Welcome", "exactName": False},
    "importToList": {"programName": "Welcome Program", "listName": "Welcome List",
                     "importFileHeader": ["Email Address", "First Name", "Company Name"],
                     "importFileRows": [["ada@example.com", "Ada", "Lovelace, Ltd"],
                                        "grace@example.com,Grace,Navy"],
                     "importListMode": "UPSERTLEADS", "clearList": True,
                     "wait": {"timeout": "10m", "interval": "1m"}},
    "listOperation": {"listOperation": "ADDTOLIST", "listKey": "Welcome List",
                      "listMemberList": [{"keyType": "IDNUM", "keyValue": 12},
                                         {"keyType": "EMAIL", "keyValue": "a@example.com"}],
                      "strict": False},
}


@pytest.fixture(scope="module")
def schema() -> xsd.ServiceSchema:
    return xsd.load(str(wsdl_path()))


def _parse(body: str) -> ET.Element:
    return ET.fromstring(body)


@pytest.mark.parametrize("operation", sorted(FULL_PARAMS))
def test_built_body_is_valid_against_the_shipped_wsdl(schema, operation):
    body, problems = build_body(schema, operation, FULL_PARAMS[operation])
    assert problems == []
    element = schema.bindings[operation].input_element
    assert schema.errors(element, _parse(body)) == []


@pytest.mark.parametrize("operation", sorted(set(FULL_PARAMS) - {"scheduleCampaign"}))
def test_built_body_is_valid_against_marketos_own_2_2_wsdl(schema, operation):
    if not REFERENCE_WSDL.is_file():
        pytest.skip("../shared/reference is not available")
    reference = xsd.load(str(REFERENCE_WSDL))
    body, _ = build_body(schema, operation, FULL_PARAMS[operation])
    assert reference.errors(schema.bindings[operation].input_element, _parse(body)) == []


def test_schedule_campaign_children_follow_the_3_1_order_with_clone_second(schema):
    params = {**FULL_PARAMS["scheduleCampaign"], "cloneToProgramName": "Welcome Copy"}
    body, problems = build_body(schema, "scheduleCampaign", params)
    assert problems == []
    assert [c.tag for c in _parse(body)] == [
        "programName", "cloneToProgramName", "campaignName", "campaignRunAt", "programTokenList"]


def test_operation_element_is_prefixed_and_children_are_unqualified(schema):
    body, _ = build_body(schema, "syncLead", FULL_PARAMS["syncLead"])
    root = _parse(body)
    assert root.tag == f"{{{MKTOWS}}}paramsSyncLead"
    assert body.startswith("<ns1:paramsSyncLead ")
    assert all("}" not in e.tag for e in root.iter() if e is not root)
    record = root.find("leadRecord")
    assert [c.tag for c in record] == ["Id", "Email", "ForeignSysPersonId", "ForeignSysType",
                                       "leadAttributeList"]


def test_lead_attributes_and_tokens_written_as_mappings_become_name_value_lists(schema):
    body, _ = build_body(schema, "requestCampaign", FULL_PARAMS["requestCampaign"])
    root = _parse(body)
    tokens = [(a.findtext("name"), a.findtext("value")) for a in root.iter("attrib")]
    assert tokens == [("{{my.message}}", "Hi"), ("{{my.other token}}", "x")]
    assert root.findtext("source") == "MKTOWS"  # the documented default
    body, _ = build_body(schema, "syncLead", FULL_PARAMS["syncLead"])
    attrs = {a.findtext("attrName"): a.findtext("attrValue") for a in _parse(body).iter("attribute")}
    assert attrs == {"FirstName": "Ada", "NumberOfEmployees": "50", "Country": "NO"}


def test_a_field_the_wsdl_lacks_is_reported_with_the_wsdl_named(schema):
    _, problems = build_body(schema, "syncLead", {"leadRecord": {"Email": "a@b.c", "id": 3}})
    assert problems and problems[0][0] == "leadRecord.id"
    assert "mktows.wsdl" in problems[0][1]


def test_text_is_escaped(schema):
    body, problems = build_body(schema, "syncLead", {"leadRecord": {
        "Email": "a@b.c", "leadAttributeList": {"Company": "Smith & <Sons>"}}})
    assert problems == []
    assert _parse(body).find(".//attrValue").text == "Smith & <Sons>"


def test_whole_envelope_has_a_valid_authentication_header(schema):
    body, _ = build_body(schema, "getLead", FULL_PARAMS["getLead"])
    headers = envelope.auth_header("user", "0" * 40, "2026-05-04T09:30:00-07:00", "partner")
    headers += envelope.context_header("Default")
    root = ET.fromstring(envelope.envelope(headers, body).encode())
    header = root.find(f"{{{SOAP_ENV}}}Header")
    auth, context = list(header)
    assert schema.errors("AuthenticationHeader", auth) == []
    assert schema.errors("MktowsContextHeader", context) == []
    assert [c.tag for c in auth] == ["mktowsUserId", "requestSignature", "requestTimestamp",
                                     "partnerId"]
    assert root.find(f"{{{SOAP_ENV}}}Body")[0].tag == f"{{{MKTOWS}}}paramsGetLead"


def test_an_import_is_written_in_wsdl_order_with_csv_rows_and_a_nil_campaign(schema):
    body, problems = build_body(schema, "importToList", FULL_PARAMS["importToList"])
    assert problems == []
    root = _parse(body)
    assert [child.tag for child in root] == [
        "programName", "importFileHeader", "importFileRows", "importListMode", "listName",
        "clearList", "campaignName"]  # `wait` is the runner's, never sent
    assert root.findtext("importFileHeader") == "Email Address,First Name,Company Name"
    assert [item.text for item in root.iter("stringItem")] == [
        'ada@example.com,Ada,"Lovelace, Ltd"', "grace@example.com,Grace,Navy"]
    campaign = root.find("campaignName")
    assert campaign is not None
    assert campaign.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"


def test_a_list_operation_takes_a_list_name_for_its_list_key(schema):
    body, problems = build_body(schema, "listOperation", FULL_PARAMS["listOperation"])
    assert problems == []
    key = _parse(body).find("listKey")
    assert key is not None
    assert (key.findtext("keyType"), key.findtext("keyValue")) == ("MKTOLISTNAME",
                                                                   "Welcome List")



def test_records_of_text_are_written_as_the_walk_writes_them(schema):
    """A record whose values are all text is written from what is known of its keys; a value
    that is not text, or not valid, falls back to the walk: same text, problems and shape."""
    keys = [{"keyType": "EMAIL", "keyValue": "a&b@example.com"},
            {"keyType": "NOPE", "keyValue": "x"},  # not a valid keyType: the walk says so
            {"keyValue": 12, "keyType": "IDNUM"},  # another key order, a number
            {"keyType": "EMAIL", "keyValue": "c@example.com", "extra": "y"}, {}]
    content = {"source": "MKTOWS", "campaignId": 1, "leadList": {"leadKey": keys}}
    first, problems = envelope.build(schema, "requestCampaign", content)
    again, _ = envelope.build(schema, "requestCampaign", content)  # its records' keys known
    assert first is not None and again is not None
    assert (again.text, again.issues, again.shape) == (first.text, first.issues, first.shape)
    assert "<keyValue>a&amp;b@example.com</keyValue>" in first.text
    assert "<leadKey></leadKey>" in first.text
    assert [p for p, _ in problems] == ["leadList.leadKey[1].keyType", "leadList.leadKey[3].extra"]
