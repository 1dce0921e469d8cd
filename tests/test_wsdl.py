"""Tests of the project's own WSDL, schemas/mktows.wsdl (Marketo mktows 3_1).

The WSDL is checked three ways:

* its WSDL 1.1 structure (names, soapActions, header bindings), loaded with
  strict validation;
* every type it shares with Marketo's published 2_2 WSDL is compared, element
  for element, with that reference file when it is available (the reference
  lives outside the project and is only read, never copied);
* the three 3_1 changes, 2_2's skipActivityLog that 2_3 dropped, and a few request
  payloads that the schema must accept or reject.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from xmlschema import XMLSchemaBase
from xmlschema.extras.wsdl import Wsdl11Document

MKTOWS_NS = "http://www.marketo.com/mktows/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"

WSDL_PATH = Path(__file__).parent.parent / "schemas" / "mktows.wsdl"
REFERENCE_WSDL_PATH = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "marketo-mktows-2_2.wsdl"
)

OPERATIONS = (
    "getCampaignsForSource",
    "getImportToListStatus",
    "getLead",
    "importToList",
    "listOperation",
    "requestCampaign",
    "scheduleCampaign",
    "syncLead",
    "syncMultipleLeads",
)

# Complex types whose content is the same in 2_2 and 3_1.
SHARED_COMPLEX_TYPES = (
    "Attribute",
    "ArrayOfAttribute",
    "Attrib",
    "ArrayOfAttrib",
    "LeadRecord",
    "ArrayOfLeadRecord",
    "LeadKey",
    "ArrayOfLeadKey",
    "SyncStatus",
    "ArrayOfSyncStatus",
    "CampaignRecord",
    "ArrayOfCampaignRecord",
    "ArrayOfString",
    "ListKey",
    "LeadStatus",
    "ArrayOfLeadStatus",
    "MktowsContextHeaderInfo",
    "ParamsGetCampaignsForSource",
    "ParamsGetImportToListStatus",
    "ParamsGetLead",
    "ParamsImportToList",
    "ParamsRequestCampaign",
    "ParamsSyncMultipleLeads",
    "ResultGetCampaignsForSource",
    "ResultGetImportToListStatus",
    "ResultGetLead",
    "ResultImportToList",
    "ResultListOperation",
    "ResultRequestCampaign",
    "ResultScheduleCampaign",
    "ResultSyncLead",
    "ResultSyncMultipleLeads",
    "SuccessGetCampaignsForSource",
    "SuccessGetImportToListStatus",
    "SuccessGetLead",
    "SuccessImportToList",
    "SuccessListOperation",
    "SuccessRequestCampaign",
    "SuccessScheduleCampaign",
    "SuccessSyncLead",
    "SuccessSyncMultipleLeads",
)

# Complex types that changed between 2_2 and 3_1, with the 3_1-only element.
CHANGED_COMPLEX_TYPES = {
    "ParamsSyncLead": "moveCookie",
    "ParamsScheduleCampaign": "cloneToProgramName",
    "AuthenticationHeaderInfo": "partnerId",
}

# Complex types 2_2 had with an element a later version dropped (reference §3.9: 2_3).
DROPPED_COMPLEX_TYPES = {
    "ParamsListOperation": "skipActivityLog",
}

ENUMERATIONS = ("LeadKeyRef", "LeadSyncStatus", "ForeignSysType", "ReqCampSourceType",
                "ListKeyType", "ListOperationType", "ImportToListStatusEnum",
                "ImportToListModeEnum")


# --------------------------------------------------------------------------- helpers


def mktows_schema(document: Wsdl11Document) -> XMLSchemaBase:
    """The inline xs:schema of a WSDL document whose namespace is mktows."""
    for schema in document.schema.maps.iter_schemas():
        if schema.target_namespace == MKTOWS_NS:
            return schema
    raise AssertionError("no xs:schema for the mktows namespace")


def child_sequence(schema: XMLSchemaBase, type_name: str) -> list[tuple]:
    """(name, minOccurs, maxOccurs, nillable, type local name, qualified) per child."""
    xsd_type = schema.types[type_name]
    assert xsd_type.is_complex(), f"{type_name} is not a complex type"
    assert xsd_type.content.model == "sequence", f"{type_name} is not a sequence"
    return [
        (
            element.local_name,
            element.min_occurs,
            element.max_occurs,
            element.nillable,
            element.type.local_name,
            element.qualified,
        )
        for element in xsd_type.content.iter_elements()
    ]


def params(root: str, children: str) -> str:
    """A global element with the ns1 prefix (as Marketo's docs write it) and
    unprefixed, hence unqualified, children."""
    return f'<ns1:{root} xmlns:ns1="{MKTOWS_NS}">{children}</ns1:{root}>'


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def wsdl() -> Wsdl11Document:
    return Wsdl11Document(str(WSDL_PATH), validation="strict")


@pytest.fixture(scope="module")
def schema(wsdl: Wsdl11Document) -> XMLSchemaBase:
    return mktows_schema(wsdl)


@pytest.fixture(scope="module")
def binding(wsdl: Wsdl11Document):
    return wsdl.bindings[f"{{{MKTOWS_NS}}}MktowsApiSoapBinding"]


@pytest.fixture(scope="module")
def reference_schema() -> XMLSchemaBase:
    if not REFERENCE_WSDL_PATH.is_file():
        pytest.skip(f"reference WSDL not available at {REFERENCE_WSDL_PATH}")
    return mktows_schema(Wsdl11Document(str(REFERENCE_WSDL_PATH), validation="strict"))


def binding_operation(binding, name: str):
    return binding.operations[(name, None, None)]


# --------------------------------------------------------------------------- structure


def test_the_wsdl_is_named_mktows_and_targets_the_mktows_namespace(wsdl):
    assert wsdl.root.get("name") == "mktows"
    assert wsdl.target_namespace == MKTOWS_NS
    assert wsdl.namespaces.get("tns") == MKTOWS_NS


def test_the_inline_schema_leaves_child_elements_unqualified(wsdl, schema):
    inline = wsdl.root.findall(f"{{http://schemas.xmlsoap.org/wsdl/}}types/{{{XSD_NS}}}schema")
    assert len(inline) == 1
    assert inline[0].get("targetNamespace") == MKTOWS_NS
    assert "elementFormDefault" not in inline[0].attrib
    assert "attributeFormDefault" not in inline[0].attrib
    assert schema.element_form_default == "unqualified"
    assert schema.attribute_form_default == "unqualified"


def test_the_service_exposes_one_port_bound_to_the_soap_binding(wsdl):
    assert [s.local_name for s in wsdl.services.values()] == ["MktMktowsApiService"]
    service = wsdl.services[f"{{{MKTOWS_NS}}}MktMktowsApiService"]
    assert list(service.ports) == ["MktowsApiSoapPort"]
    port = service.ports["MktowsApiSoapPort"]
    assert port.binding.local_name == "MktowsApiSoapBinding"
    assert port.binding.port_type.local_name == "MktowsPort"
    assert port.soap_location == "http://127.0.0.1/soap/mktows/3_1"


def test_the_binding_is_soap_document_over_http(binding):
    assert binding.soap_binding is not None
    assert binding.soap_binding.get("style") == "document"
    assert binding.soap_binding.get("transport") == "http://schemas.xmlsoap.org/soap/http"


def test_the_binding_has_exactly_the_operations_the_project_drives(binding):
    assert sorted(name for name, _, _ in binding.operations) == sorted(OPERATIONS)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_each_operation_has_marketos_soap_action_and_document_literal_messages(binding, operation):
    op = binding_operation(binding, operation)
    assert op.soap_action == f"http://www.marketo.com/mktows/{operation}"
    assert op.soap_style == "document"
    assert op.faults == {}

    suffix = operation[0].upper() + operation[1:]
    assert op.input.message.local_name == f"{suffix}Request"
    assert list(op.input.message.parts) == [f"params{suffix}"]
    assert op.input.message.parts[f"params{suffix}"].name == f"{{{MKTOWS_NS}}}params{suffix}"
    assert op.input.soap_body.use == "literal"
    assert op.input.soap_body.parts == [f"params{suffix}"]

    assert op.output.message.local_name == f"{suffix}Response"
    assert list(op.output.message.parts) == [f"success{suffix}"]
    assert op.output.message.parts[f"success{suffix}"].name == f"{{{MKTOWS_NS}}}success{suffix}"
    assert op.output.soap_body.use == "literal"
    assert list(op.output.soap_headers) == []


@pytest.mark.parametrize("operation", OPERATIONS)
def test_each_operation_binds_the_authentication_header_and_only_sync_lead_the_context_header(
    binding, operation
):
    headers = [
        (h.message.local_name, h.elem.get("part"), h.use, h.part.name)
        for h in binding_operation(binding, operation).input.soap_headers
    ]
    auth = f"{{{MKTOWS_NS}}}AuthenticationHeader"
    context = f"{{{MKTOWS_NS}}}MktowsContextHeader"
    expected = [("AuthenticationHeader", "authentication", "literal", auth)]
    if operation == "syncLead":
        expected.append(("MktowsContextHeader", "mktowsContext", "literal", context))
    assert headers == expected


def test_the_schema_declares_exactly_the_types_the_operations_need(schema):
    expected = (set(SHARED_COMPLEX_TYPES) | set(CHANGED_COMPLEX_TYPES)
                | set(DROPPED_COMPLEX_TYPES) | set(ENUMERATIONS))
    assert set(schema.types) == expected


def test_the_global_elements_are_the_two_headers_and_a_params_and_success_per_operation(schema):
    expected = {
        "AuthenticationHeader": "AuthenticationHeaderInfo",
        "MktowsContextHeader": "MktowsContextHeaderInfo",
    }
    for operation in OPERATIONS:
        suffix = operation[0].upper() + operation[1:]
        expected[f"params{suffix}"] = f"Params{suffix}"
        expected[f"success{suffix}"] = f"Success{suffix}"
    assert {name: el.type.local_name for name, el in schema.elements.items()} == expected
    # Global elements live in the target namespace, i.e. are always qualified.
    assert all(el.name == f"{{{MKTOWS_NS}}}{name}" for name, el in schema.elements.items())


# --------------------------------------------------------------------------- against 2_2


@pytest.mark.parametrize("type_name", SHARED_COMPLEX_TYPES)
def test_a_type_shared_with_2_2_has_the_same_child_sequence_as_marketos_wsdl(
    schema, reference_schema, type_name
):
    assert child_sequence(schema, type_name) == child_sequence(reference_schema, type_name)


@pytest.mark.parametrize("type_name", ENUMERATIONS)
def test_an_enumeration_has_the_same_values_as_marketos_wsdl(schema, reference_schema, type_name):
    ours = schema.types[type_name]
    theirs = reference_schema.types[type_name]
    assert ours.base_type.local_name == theirs.base_type.local_name == "string"
    assert ours.enumeration == theirs.enumeration


@pytest.mark.parametrize(("type_name", "new_element"), sorted(CHANGED_COMPLEX_TYPES.items()))
def test_a_changed_type_is_the_2_2_type_plus_only_its_3_1_element(
    schema, reference_schema, type_name, new_element
):
    ours = [child for child in child_sequence(schema, type_name) if child[0] != new_element]
    assert ours == child_sequence(reference_schema, type_name)


@pytest.mark.parametrize(("type_name", "dropped"), sorted(DROPPED_COMPLEX_TYPES.items()))
def test_a_type_that_lost_an_element_after_2_2_is_the_2_2_type_without_it(
    schema, reference_schema, type_name, dropped
):
    theirs = [c for c in child_sequence(reference_schema, type_name) if c[0] != dropped]
    assert len(theirs) == len(child_sequence(reference_schema, type_name)) - 1
    assert child_sequence(schema, type_name) == theirs


# --------------------------------------------------------------------------- 3_1 changes


def test_sync_lead_params_end_with_the_3_1_move_cookie_flag(schema):
    assert child_sequence(schema, "ParamsSyncLead") == [
        ("leadRecord", 1, 1, False, "LeadRecord", False),
        ("returnLead", 1, 1, False, "boolean", False),
        ("marketoCookie", 0, 1, True, "string", False),
        ("moveCookie", 0, 1, True, "boolean", False),
    ]


def test_schedule_campaign_params_have_clone_to_program_name_second(schema):
    assert child_sequence(schema, "ParamsScheduleCampaign") == [
        ("programName", 1, 1, False, "string", False),
        ("cloneToProgramName", 0, 1, True, "string", False),
        ("campaignName", 1, 1, False, "string", False),
        ("campaignRunAt", 0, 1, True, "dateTime", False),
        ("programTokenList", 0, 1, True, "ArrayOfAttrib", False),
    ]


def test_the_authentication_header_has_partner_id_fourth(schema):
    assert child_sequence(schema, "AuthenticationHeaderInfo") == [
        ("mktowsUserId", 1, 1, False, "string", False),
        ("requestSignature", 1, 1, False, "string", False),
        ("requestTimestamp", 1, 1, False, "string", False),
        ("partnerId", 0, 1, False, "string", False),
        ("audit", 0, 1, False, "string", False),
        ("mode", 0, 1, False, "int", False),
    ]


# --------------------------------------------------------------------------- payloads

TOKENS = (
    "<programTokenList>"
    "<attrib><name>{{my.message}}</name><value>Hi</value></attrib>"
    "</programTokenList>"
)
RUN_AT = "<campaignRunAt>2026-05-04T09:30:00-07:00</campaignRunAt>"


def test_a_schedule_request_with_clone_to_program_name_after_the_run_time_is_invalid(schema):
    # The order of Marketo's own documentation sample.
    payload = params(
        "paramsScheduleCampaign",
        "<programName>Webinars</programName>"
        "<campaignName>Send invite</campaignName>"
        + RUN_AT
        + "<cloneToProgramName>Webinars 2026-05</cloneToProgramName>"
        + TOKENS,
    )
    assert not schema.is_valid(payload)


def test_a_schedule_request_with_clone_to_program_name_second_is_valid(schema):
    payload = params(
        "paramsScheduleCampaign",
        "<programName>Webinars</programName>"
        "<cloneToProgramName>Webinars 2026-05</cloneToProgramName>"
        "<campaignName>Send invite</campaignName>" + RUN_AT + TOKENS,
    )
    schema.validate(payload)


def test_a_sync_lead_request_with_prefixed_root_and_unprefixed_children_is_valid(schema):
    payload = params(
        "paramsSyncLead",
        "<leadRecord><Email>ada@example.com</Email>"
        "<leadAttributeList><attribute><attrName>FirstName</attrName>"
        "<attrValue>Ada</attrValue></attribute></leadAttributeList></leadRecord>"
        "<returnLead>false</returnLead>"
        '<marketoCookie xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>'
        "<moveCookie>true</moveCookie>",
    )
    schema.validate(payload)


def test_a_sync_lead_request_under_a_default_namespace_is_invalid(schema):
    # A default xmlns qualifies leadRecord and returnLead, which the schema forbids.
    payload = (
        f'<paramsSyncLead xmlns="{MKTOWS_NS}">'
        "<leadRecord><Email>ada@example.com</Email></leadRecord>"
        "<returnLead>false</returnLead>"
        "</paramsSyncLead>"
    )
    assert not schema.is_valid(payload)


def test_an_authentication_header_with_partner_id_before_audit_is_valid(schema):
    payload = params(
        "AuthenticationHeader",
        "<mktowsUserId>demo17_1_809934544BFABAE58E5D27</mktowsUserId>"
        "<requestSignature>b5e21953ae9f1b263e644da5eccce9ff33802513</requestSignature>"
        "<requestTimestamp>2013-08-01T18:22:30-07:00</requestTimestamp>"
        "<partnerId>partner-key</partnerId>"
        "<audit>run-1</audit>",
    )
    schema.validate(payload)


def test_an_authentication_header_with_partner_id_after_audit_is_invalid(schema):
    payload = params(
        "AuthenticationHeader",
        "<mktowsUserId>demo17_1_809934544BFABAE58E5D27</mktowsUserId>"
        "<requestSignature>b5e21953ae9f1b263e644da5eccce9ff33802513</requestSignature>"
        "<requestTimestamp>2013-08-01T18:22:30-07:00</requestTimestamp>"
        "<audit>run-1</audit>"
        "<partnerId>partner-key</partnerId>",
    )
    assert not schema.is_valid(payload)


IMPORT = (
    "<programName>Welcome Program</programName>"
    "<importFileHeader>Email Address,First Name</importFileHeader>"
    "<importFileRows><stringItem>ada@example.com,Ada</stringItem></importFileRows>"
    "<importListMode>UPSERTLEADS</importListMode>"
    "<listName>Welcome List</listName>"
    "<clearList>false</clearList>"
)
NIL = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"'


def test_an_import_must_send_campaign_name_even_when_nil(schema):
    # Marketo's table calls campaignName optional; the schema requires it (nillable).
    schema.validate(params("paramsImportToList", IMPORT + f"<campaignName {NIL}/>"))
    assert not schema.is_valid(params("paramsImportToList", IMPORT))


def test_an_import_must_send_clear_list_and_it_is_not_nillable(schema):
    without = IMPORT.replace("<clearList>false</clearList>", "")
    assert not schema.is_valid(params("paramsImportToList", without + f"<campaignName {NIL}/>"))
    nil = IMPORT.replace("<clearList>false</clearList>", f"<clearList {NIL}/>")
    assert not schema.is_valid(params("paramsImportToList", nil + f"<campaignName {NIL}/>"))


LIST_KEY = "<listKey><keyType>MKTOLISTNAME</keyType><keyValue>Welcome List</keyValue></listKey>"
MEMBERS = "<listMemberList><leadKey><keyType>IDNUM</keyType><keyValue>1</keyValue></leadKey>" \
          "</listMemberList>"


def test_a_list_operation_in_schema_order_is_valid(schema):
    schema.validate(params("paramsListOperation", "<listOperation>ADDTOLIST</listOperation>"
                           + LIST_KEY + MEMBERS + "<strict>true</strict>"))


def test_a_list_operation_with_strict_before_the_list_key_is_invalid(schema):
    # The order markety sent (and Marketo's lenient server accepted, reference §4 item 12).
    assert not schema.is_valid(params("paramsListOperation",
                                      "<listOperation>ADDTOLIST</listOperation>"
                                      "<strict>false</strict>" + LIST_KEY + MEMBERS))


def test_skip_activity_log_is_2_2_only(schema):
    assert not schema.is_valid(params("paramsListOperation",
                                      "<listOperation>ADDTOLIST</listOperation>" + LIST_KEY
                                      + MEMBERS + "<skipActivityLog>true</skipActivityLog>"))
