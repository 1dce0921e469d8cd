"""The version in the path: `/soap/mktows/2_2` describes and answers API 2_2, `/soap/mktows/3_1`
API 3_1 (docs/sandbox.md "API versions"). The 2_2 WSDL is derived from the project's 3_1 one
and compared, element for element, with Marketo's real 2_2 WSDL where ../shared has it; a
3_1-only element sent to 2_2 is an element 2_2 never knew: ignored and logged by default,
20012 in strict mode. zeep reads both descriptions over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
import requests

from runner.sandbox.ops import HANDLERS
from runner.sandbox.versions import ADDED_AFTER_2_2, DROPPED_AFTER_2_2
from tests.conftest import REFERENCE_WSDL
from tests.test_sandbox_fidelity import Raw, box, fault_code, params, result

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XS = "http://www.w3.org/2001/XMLSchema"
MKTOWS = "http://www.marketo.com/mktows/"
ONLY_3_1 = {"AuthenticationHeaderInfo": "partnerId", "ParamsSyncLead": "moveCookie",
            "ParamsScheduleCampaign": "cloneToProgramName"}

SCHEDULE = ("<programName>Trav-Demo-Program</programName>{clone}"
            "<campaignName>Batch Campaign Example</campaignName>")
CLONE = "<cloneToProgramName>Trav Clone</cloneToProgramName>"


def sequence(wsdl: bytes, type_name: str) -> list[str]:
    root = SafeET.fromstring(wsdl)
    found = root.find(f".//{{{XS}}}complexType[@name='{type_name}']")
    assert found is not None, type_name
    return [e.get("name", "") for e in found.iter(f"{{{XS}}}element")]


def binding_operations(wsdl: bytes) -> list[str]:
    root = SafeET.fromstring(wsdl)
    return sorted(op.get("name", "") for op in root.iterfind(
        f"{{{WSDL_NS}}}binding/{{{WSDL_NS}}}operation"))


# -- the descriptions --------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2_2", "3_1"])
def test_each_version_serves_its_own_wsdl_with_the_served_operations(
        tmp_path: Path, version: str) -> None:
    with box(tmp_path) as raw:
        reply = raw.get(f"/soap/mktows/{version}?WSDL")
        assert (reply.status_code, reply.headers["Content-Type"]) == (
            200, "text/xml;charset=UTF-8")
        root = SafeET.fromstring(reply.content)
        address = root.find(f".//{{{SOAP_BINDING_NS}}}address")
        assert address is not None and address.get("location") == raw.info.endpoint_of(version)
        assert binding_operations(reply.content) == sorted(HANDLERS)
        port_ops = sorted(op.get("name", "") for op in root.iterfind(
            f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation"))
        assert port_ops == sorted(HANDLERS)
        for type_name, element in ONLY_3_1.items():
            assert (element in sequence(reply.content, type_name)) == (version == "3_1")


def test_the_2_2_wsdl_differs_from_3_1_only_by_what_3_1_added_and_2_2_had(
        tmp_path: Path) -> None:
    with box(tmp_path) as raw:
        old, new = (raw.get(f"/soap/mktows/{v}?WSDL").content for v in ("2_2", "3_1"))
    root = SafeET.fromstring(new)
    dropped = 0
    for complex_type in root.iter(f"{{{XS}}}complexType"):
        name = complex_type.get("name", "")
        added = set(ADDED_AFTER_2_2.get(name, ()))
        expected = [e for e in sequence(new, name) if e not in added]
        for element, _, after in DROPPED_AFTER_2_2.get(name, ()):
            expected.insert(expected.index(after) + 1, element)  # 2_2's, put back
            dropped += 1
        assert sequence(old, name) == expected
    assert dropped == 1  # ParamsListOperation/skipActivityLog, now that listOperation is served


def _mktows_schema(document: Any) -> Any:
    return next(s for s in document.schema.maps.iter_schemas() if s.target_namespace == MKTOWS)


def _shape(decl: Any, depth: int = 0) -> tuple[Any, ...]:
    """An element's type, recursively: names, occurrences, nillable, qualification and the
    enumerations of simple types (the comparison the issue asks for, element for element)."""
    assert depth < 12, "unexpectedly deep types"
    kind = decl.type
    if kind.is_simple() or kind.has_simple_content():
        return (kind.local_name, tuple(getattr(kind, "enumeration", None) or ()))
    return (kind.local_name, tuple(
        (c.local_name, c.min_occurs, c.max_occurs, c.nillable, c.qualified, _shape(c, depth + 1))
        for c in kind.content.iter_elements()))


def test_the_2_2_wsdl_matches_marketos_real_2_2_wsdl_for_the_served_operations(
        tmp_path: Path) -> None:
    if not REFERENCE_WSDL.is_file():
        pytest.skip(f"Marketo's 2_2 WSDL is not available at {REFERENCE_WSDL}")
    from xmlschema.extras.wsdl import Wsdl11Document

    with box(tmp_path) as raw:
        served = tmp_path / "served-2_2.wsdl"
        served.write_bytes(raw.get("/soap/mktows/2_2?WSDL").content)
    ours = Wsdl11Document(str(served), validation="strict")
    theirs = Wsdl11Document(str(REFERENCE_WSDL), validation="strict")
    (our_binding,), (their_binding,) = ours.bindings.values(), theirs.bindings.values()
    our_schema, their_schema = _mktows_schema(ours), _mktows_schema(theirs)
    compared = 0
    for name, _, _ in our_binding.operations:
        mine = our_binding.operations[(name, None, None)]
        marketo = their_binding.operations[(name, None, None)]
        assert mine.soap_action == marketo.soap_action
        assert [h.part.local_name for h in mine.input.soap_headers] == [
            h.part.local_name for h in marketo.input.soap_headers]
        for io in ("input", "output"):
            (part,) = getattr(mine, io).message.parts.values()
            element = part.local_name
            assert _shape(our_schema.elements[element]) == _shape(
                their_schema.elements[element]), element
            compared += 1
    for header in ("AuthenticationHeader", "MktowsContextHeader"):
        assert _shape(our_schema.elements[header]) == _shape(their_schema.elements[header])
    assert compared == 2 * len(HANDLERS)


def test_only_the_served_versions_have_an_endpoint(tmp_path: Path) -> None:
    with box(tmp_path) as raw:
        for version in ("2_7", "1_7", "3_0"):
            assert raw.get(f"/soap/mktows/{version}?WSDL").status_code == 404
            reply = raw.http.post(f"{raw.info.base_url}/soap/mktows/{version}",
                                  data=raw.envelope(params("getLead", "")).encode(),
                                  headers={"Content-Type": "text/xml"}, timeout=30)
            assert reply.status_code == 404
            assert "/soap/mktows/2_2" in reply.text and "/soap/mktows/3_1" in reply.text
        assert raw.requests() == []


# -- answering as the version did -------------------------------------------------------------


def test_clone_to_program_name_sent_to_2_2_is_ignored_and_logged(tmp_path: Path) -> None:
    with box(tmp_path) as raw:
        body = raw.envelope(params("scheduleCampaign", SCHEDULE.format(clone=CLONE)))
        result(raw.post(body, "2_2"), "scheduleCampaign")
        assert (raw.last()["version"], raw.last()["ignored"]) == (
            "2_2", ["paramsScheduleCampaign/cloneToProgramName"])
        result(raw.post(body, "3_1"), "scheduleCampaign")
        assert (raw.last()["version"], raw.last()["ignored"]) == ("3_1", [])
        assert [(r["program_name"], r["clone_to_program_name"]) for r in raw.runs()] == [
            ("Trav-Demo-Program", None), ("Trav Clone", "Trav Clone")]
        assert [p["name"] for p in raw.programs()] == ["Trav Clone"]


def test_move_cookie_sent_to_2_2_is_ignored_and_logged(tmp_path: Path) -> None:
    def sync(raw: Raw, record: str, version: str, extra: str = "") -> None:
        children = f"<leadRecord>{record}</leadRecord><returnLead>false</returnLead>{extra}"
        result(raw.post(raw.envelope(params("syncLead", children)), version), "syncLead")

    move = "<marketoCookie>ck-1</marketoCookie><moveCookie>true</moveCookie>"
    with box(tmp_path) as raw:
        sync(raw, "<Email>first@example.com</Email>", "3_1",
             "<marketoCookie>ck-1</marketoCookie>")
        sync(raw, "<Email>second@example.com</Email>", "3_1")
        sync(raw, "<Id>2</Id>", "2_2", move)  # found by Id; the cookie is lead 1's
        assert raw.last()["ignored"] == ["paramsSyncLead/moveCookie"]
        assert [x["cookie"] for x in raw.leads()] == ["ck-1", None]  # not moved
        sync(raw, "<Id>2</Id>", "3_1", move)
        assert raw.last()["ignored"] == []
        assert [x["cookie"] for x in raw.leads()] == [None, "ck-1"]


def test_partner_id_sent_to_2_2_is_ignored_and_logged(tmp_path: Path) -> None:
    with box(tmp_path) as raw:
        xml = raw.envelope(params("getCampaignsForSource", "<source>MKTOWS</source>"),
                           auth_extra="<partnerId>launchpoint-1</partnerId>")
        result(raw.post(xml, "2_2"), "getCampaignsForSource")
        assert raw.last()["ignored"] == ["AuthenticationHeader/partnerId"]
        result(raw.post(xml, "3_1"), "getCampaignsForSource")
        assert raw.last()["ignored"] == []


def test_strict_2_2_faults_the_elements_3_1_added(tmp_path: Path) -> None:
    with box(tmp_path, strict=True) as raw:
        clone = raw.envelope(params("scheduleCampaign", SCHEDULE.format(clone=CLONE)))
        assert fault_code(raw.post(clone, "2_2")) == "20012"
        assert raw.runs() == []
        result(raw.post(clone, "3_1"), "scheduleCampaign")
        partner = raw.envelope(params("getCampaignsForSource", "<source>MKTOWS</source>"),
                               auth_extra="<partnerId>launchpoint-1</partnerId>")
        assert fault_code(raw.post(partner, "2_2")) == "20014"  # an invalid header
        result(raw.post(partner, "3_1"), "getCampaignsForSource")
        plain = raw.envelope(params("scheduleCampaign", SCHEDULE.format(clone="")))
        result(raw.post(plain, "2_2"), "scheduleCampaign")


# -- zeep, reading each description -----------------------------------------------------------


def _zeep(raw: Raw, version: str) -> Any:
    zeep = pytest.importorskip("zeep")
    session = requests.Session()
    session.trust_env = False
    return zeep.Client(f"{raw.info.endpoint_of(version)}?WSDL",
                       transport=zeep.Transport(session=session))


def _auth(client: Any, raw: Raw, **extra: str) -> Any:
    envelope = raw.sign("$user_id|$signature|$timestamp")
    user, signature, stamp = envelope.split("|")
    header = client.get_element(f"{{{MKTOWS}}}AuthenticationHeader")
    return header(mktowsUserId=user, requestSignature=signature, requestTimestamp=stamp,
                  **extra)


def test_zeep_reads_both_descriptions_and_calls_each_version(tmp_path: Path) -> None:
    with box(tmp_path, strict=True) as raw:  # zeep's requests must be valid for the version
        new, old = _zeep(raw, "3_1"), _zeep(raw, "2_2")
        assert new.service.scheduleCampaign(
            programName="Trav-Demo-Program", cloneToProgramName="Zeep Clone",
            campaignName="Batch Campaign Example",
            _soapheaders=[_auth(new, raw, partnerId="p-1")]) is True
        with pytest.raises(TypeError):  # 2_2 has no such element: zeep cannot even send it
            old.service.scheduleCampaign(programName="Trav-Demo-Program",
                                         cloneToProgramName="Never",
                                         campaignName="Batch Campaign Example",
                                         _soapheaders=[_auth(old, raw)])
        with pytest.raises(TypeError):
            _auth(old, raw, partnerId="p-1")
        assert old.service.scheduleCampaign(
            programName="Trav-Demo-Program", campaignName="Batch Campaign Example",
            _soapheaders=[_auth(old, raw)]) is True
        synced = old.service.syncLead(leadRecord={"Email": "zeep22@example.com"},
                                      returnLead=True, _soapheaders=[_auth(old, raw)])
        assert (synced.syncStatus.status, synced.leadRecord.Email) == (
            "CREATED", "zeep22@example.com")
        assert [(r["operation"], r["version"], r["fault_code"]) for r in raw.requests()] == [
            ("scheduleCampaign", "3_1", None), ("scheduleCampaign", "2_2", None),
            ("syncLead", "2_2", None)]
        assert [r["program_name"] for r in raw.runs()] == ["Zeep Clone", "Trav-Demo-Program"]
