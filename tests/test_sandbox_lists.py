"""The sandbox's static lists and imports over both APIs (docs/sandbox.md "listOperation",
"importToList and getImportToListStatus", REST "Endpoints served"): replies in Marketo's
shapes (reference §8 item 7, marketo-rest-reference.md §3.7, §3.8), one store for both APIs,
and the database upgrade that adds the tables.

SOAP requests are signed here and checked against the WSDL (tests/test_sandbox.py's Client);
REST requests are plain `requests` calls (tests/test_sandbox_rest.py's Rest).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from runner.sandbox import open_store
from runner.sandbox.db import SCHEMA_VERSION
from runner.soap.namespaces import XSI
from tests.test_sandbox import Client, serving
from tests.test_sandbox_fidelity import box, fault_code
from tests.test_sandbox_fidelity import params as raw_params
from tests.test_sandbox_rest import Rest, failure, ok, serving_rest

WELCOME_LIST, VIP_LIST = 2001, 2002
NIL = f"{{{XSI}}}nil"
CENTRAL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-0[56]:00$")


def list_op(mode: str, keys: list[tuple[str, str]], *, name: str = "VIP List",
            kind: str = "MKTOLISTNAME", extra: str = "") -> str:
    members = "".join(f"<leadKey><keyType>{t}</keyType><keyValue>{v}</keyValue></leadKey>"
                      for t, v in keys)
    return (f"<listOperation>{mode}</listOperation><listKey><keyType>{kind}</keyType>"
            f"<keyValue>{name}</keyValue></listKey><listMemberList>{members}</listMemberList>"
            + extra)


def statuses(result: Any) -> list[tuple[str, str]]:
    return [(s.findtext("leadKey/keyValue", ""), s.findtext("status", ""))
            for s in result.iterfind("statusList/leadStatus")]


def members(client: Client | Rest, list_id: int) -> list[int]:
    with open_store(client.info.db_path) as store:
        return store.list_members(list_id)


def imports(client: Client | Rest) -> list[dict[str, Any]]:
    with open_store(client.info.db_path) as store:
        return store.imports()


def import_xml(rows: list[str], *, header: str = "Email Address,First Name",
               mode: str = "UPSERTLEADS", clear: bool = False, campaign: str | None = None,
               program: str = "Welcome Program", name: str = "VIP List") -> str:
    items = "".join(f"<stringItem>{r}</stringItem>" for r in rows)
    campaign_xml = (f"<campaignName>{campaign}</campaignName>" if campaign
                    else f'<campaignName xmlns:xsi="{XSI}" xsi:nil="true"/>')
    return (f"<programName>{program}</programName><importFileHeader>{header}"
            f"</importFileHeader><importFileRows>{items}</importFileRows><importListMode>"
            f"{mode}</importListMode><listName>{name}</listName><clearList>"
            f"{str(clear).lower()}</clearList>{campaign_xml}")


STATUS = "<programName>Welcome Program</programName><listName>VIP List</listName>"


@pytest.fixture
def client(sandbox: Any) -> Client:
    """SOAP to the strict sandbox (tests/conftest.py): every request checked by its WSDL."""
    return Client(sandbox)


# -- SOAP listOperation ------------------------------------------------------------------------


def test_add_to_list_answers_success_with_a_nil_status_list(client: Client) -> None:
    ann, bob = client.sync_id("ann@example.com"), client.sync_id("bob@example.com")
    result = client.call("listOperation", list_op("ADDTOLIST", [("IDNUM", str(ann)),
                                                                 ("EMAIL", "bob@example.com")]))
    assert result.findtext("success") == "true"
    status_list = result.find("statusList")
    assert status_list is not None and status_list.get(NIL) == "true"  # as markety captured
    assert members(client, VIP_LIST) == [ann, bob]
    again = client.call("listOperation", list_op("ADDTOLIST", [("IDNUM", str(ann))]))
    assert again.findtext("success") == "true"  # idempotent: a member stays one
    assert members(client, VIP_LIST) == [ann, bob]


def test_list_replies_declare_xsi_only_with_a_nil_status_list(client: Client) -> None:
    """As markety's captures of Marketo's listOperation replies (reference §8 item 7)."""
    ann = client.sync_id("ann@example.com")
    head = re.compile(rb"<SOAP-ENV:Envelope([^>]*)>")
    for mode, declared in (("ADDTOLIST", True), ("ISMEMBEROFLIST", False)):
        status, reply = client.post(client.envelope(raw_params("listOperation", list_op(
            mode, [("IDNUM", str(ann))]))), action="listOperation")
        assert status == 200
        found = head.search(reply)
        assert found is not None
        assert (b"xmlns:xsi=" in found[1]) is declared, reply


def test_is_member_lists_every_key_and_a_non_member_is_false(client: Client) -> None:
    ann = client.sync_id("ann@example.com")
    client.sync_id("bob@example.com")
    client.call("listOperation", list_op("ADDTOLIST", [("IDNUM", str(ann))]))
    result = client.call("listOperation", list_op("ISMEMBEROFLIST", [
        ("IDNUM", str(ann)), ("EMAIL", "bob@example.com"), ("EMAIL", "nobody@example.com")]))
    assert result.findtext("success") == "false"
    assert statuses(result) == [(str(ann), "true"), ("bob@example.com", "false"),
                                ("nobody@example.com", "false")]
    assert [k.findtext("keyType") for k in result.iterfind("statusList/leadStatus/leadKey")] \
        == ["IDNUM", "EMAIL", "EMAIL"]


def test_removing_a_non_member_is_false_not_a_fault(client: Client) -> None:
    ann = client.sync_id("ann@example.com")
    client.call("listOperation", list_op("ADDTOLIST", [("IDNUM", str(ann))]))
    removed = client.call("listOperation", list_op("REMOVEFROMLIST", [("IDNUM", str(ann))]))
    assert removed.findtext("success") == "true" and statuses(removed) == []
    again = client.call("listOperation", list_op("REMOVEFROMLIST", [("IDNUM", str(ann))]))
    assert (again.findtext("success"), statuses(again)) == ("false", [(str(ann), "false")])
    assert members(client, VIP_LIST) == []


def test_strict_faults_a_key_without_a_lead_and_changes_nothing(client: Client) -> None:
    ann = client.sync_id("ann@example.com")
    children = list_op("ADDTOLIST", [("IDNUM", str(ann)), ("EMAIL", "ghost@example.com")],
                       extra="<strict>true</strict>")
    fault = client.fault("listOperation", children)
    assert (fault["code"], fault["message"]) == (
        "20103", "No lead found with EMAIL = ghost@example.com (20103)")
    assert members(client, VIP_LIST) == []
    lenient = client.call("listOperation", children.replace("true</strict>", "false</strict>"))
    assert statuses(lenient) == [(str(ann), "true"), ("ghost@example.com", "false")]
    assert members(client, VIP_LIST) == [ann]


@pytest.mark.parametrize(("kind", "name"), [("MKTOLISTNAME", "No Such List"),
                                            ("MKTOLISTNAME", "vip list"),
                                            ("SFDCLEADOWNERID", "005x")])
def test_a_list_the_sandbox_does_not_have_is_20111(client: Client, kind: str,
                                                   name: str) -> None:
    children = list_op("ADDTOLIST", [("IDNUM", "1")], kind=kind, name=name)
    assert client.fault_code("listOperation", children) == "20111"


def test_more_than_1000_keys_is_a_bad_parameter(client: Client) -> None:
    children = list_op("ISMEMBEROFLIST", [("IDNUM", str(i)) for i in range(1, 1002)])
    assert client.fault_code("listOperation", children) == "20110"


def test_skip_activity_log_is_2_2s_and_ignored_by_3_1(tmp_path: Path) -> None:
    skip = "<skipActivityLog>true</skipActivityLog>"
    with box(tmp_path, None, strict=True) as raw:
        reply = raw.post(raw.envelope(raw_params("listOperation", list_op(
            "ISMEMBEROFLIST", [("IDNUM", "1")], extra=skip))), "2_2")
        assert reply.status_code == 200, reply.text  # valid against the 2_2 WSDL
        strict_3_1 = raw.post(raw.envelope(raw_params("listOperation", list_op(
            "ISMEMBEROFLIST", [("IDNUM", "1")], extra=skip))))
        assert fault_code(strict_3_1) == "20012"
    with box(tmp_path / "lenient", None) as raw:
        reply = raw.post(raw.envelope(raw_params("listOperation", list_op(
            "ISMEMBEROFLIST", [("IDNUM", "1")], extra=skip))))
        assert reply.status_code == 200, reply.text
        assert raw.last()["ignored"] == ["paramsListOperation/skipActivityLog"]


# -- SOAP importToList and getImportToListStatus ----------------------------------------------


def test_an_import_is_processing_then_complete_with_its_counts(tmp_path: Path) -> None:
    with serving(tmp_path, None, strict=True, import_status_checks=1) as client:
        client.sync_id("old@example.com", attrs={"FirstName": "Before"})
        reply = client.call("importToList", import_xml(
            ["old@example.com,After", "new@example.com,New", ",No email"]))
        assert reply.findtext("importStatus") == "PROCESSING"
        first = client.call("getImportToListStatus", STATUS)
        assert first.findtext("status") == "PROCESSING"
        assert first.findtext("estimatedRows") == "3"
        assert all(first.find(n).get(NIL) == "true"  # type: ignore[union-attr]
                   for n in ("endedTime", "rowsImported", "rowsFailed", "importSummary"))
        assert CENTRAL.match(first.findtext("startedTime") or "")
        done = client.call("getImportToListStatus", STATUS)
        assert [done.findtext(n) for n in ("status", "rowsImported", "rowsFailed",
                                           "rowsIgnored", "importSummary")] == [
            "COMPLETE", "2", "1", "0", "2 row(s) imported, 1 failed, 0 ignored"]
        assert CENTRAL.match(done.findtext("endedTime") or "")
        leads = {lead["email"]: lead for lead in client.leads()}
        assert leads["old@example.com"]["attributes"]["FirstName"] == "After"  # updated
        assert members(client, VIP_LIST) == [leads["old@example.com"]["id"],
                                             leads["new@example.com"]["id"]]
        (job,) = imports(client)
        assert job["failures"].splitlines() == ["Email Address,First Name,Import Failure Reason",
                                                ",No email,no Email Address"]


def test_an_import_with_a_header_it_cannot_read_fails_whole(client: Client) -> None:
    client.call("importToList", import_xml(["a@example.com,Pants"],
                                           header="Email Address,Trouser Size"))
    status = client.call("getImportToListStatus", STATUS)
    assert status.findtext("status") == "FAILED"
    assert status.findtext("importSummary") == (
        "unknown column 'Trouser Size': not a lead field's display name")
    assert client.leads() == [] and members(client, VIP_LIST) == []


def test_listonly_adds_existing_leads_and_ignores_the_others(client: Client) -> None:
    ann = client.sync_id("ann@example.com")
    client.call("importToList", import_xml(["ann@example.com", "nobody@example.com"],
                                           header="Email Address", mode="LISTONLY"))
    status = client.call("getImportToListStatus", STATUS)
    assert [status.findtext(n) for n in ("rowsImported", "rowsIgnored")] == ["1", "1"]
    assert members(client, VIP_LIST) == [ann] and len(client.leads()) == 1


def test_clear_list_empties_the_list_first(client: Client) -> None:
    ann = client.sync_id("ann@example.com")
    client.call("listOperation", list_op("ADDTOLIST", [("IDNUM", str(ann))]))
    client.call("importToList", import_xml(["bob@example.com,Bob"], clear=True))
    bob = next(lead["id"] for lead in client.leads() if lead["email"] == "bob@example.com")
    assert members(client, VIP_LIST) == [bob]


def test_per_lead_tokens_need_a_batch_campaign_and_are_kept(client: Client) -> None:
    header = "Email Address,{{my.greeting}}"
    client.call("importToList", import_xml(["ann@example.com,Hi Ann"], header=header))
    assert client.call("getImportToListStatus", STATUS).findtext("status") == "FAILED"
    assert client.fault_code("importToList", import_xml(
        ["ann@example.com,Hi Ann"], header=header, campaign="Welcome Email")) == "20113"
    client.call("importToList", import_xml(["ann@example.com,Hi Ann"], header=header,
                                           campaign="Welcome Batch"))
    job = imports(client)[-1]
    ann = client.leads()[0]["id"]
    assert (job["campaign_name"], job["tokens"]) == (
        "Welcome Batch", {str(ann): {"{{my.greeting}}": "Hi Ann"}})


def test_import_and_status_faults(client: Client) -> None:
    assert client.fault_code("importToList", import_xml(["a@x.com,A"], name="Nope")) == "20111"
    assert client.fault_code("importToList", import_xml(
        ["a@x.com,A"], program="Webinar 2026")) == "20111"  # the list is another program's
    assert client.fault_code("getImportToListStatus", STATUS) == "20110"  # never imported
    assert client.fault_code("getImportToListStatus",
                             "<programName>Welcome Program</programName>") == "20109"


# -- REST lists -------------------------------------------------------------------------------


@pytest.fixture
def rest(tmp_path: Path) -> Any:
    with serving_rest(tmp_path, None) as client:
        yield client


def sync_rest(rest: Rest, *emails: str) -> list[int]:
    return [r["id"] for r in rest.sync(*({"email": e} for e in emails))]


def test_lists_are_found_by_name_and_id(rest: Rest) -> None:
    found = rest.get("/rest/v1/lists.json", name="VIP List")["result"]
    assert [(r["id"], r["name"], r["programName"], r["workspaceName"]) for r in found] == [
        (VIP_LIST, "VIP List", "Welcome Program", "Default")]
    both = rest.get("/rest/v1/lists.json", programName="Welcome Program")["result"]
    assert [r["id"] for r in both] == [WELCOME_LIST, VIP_LIST]
    assert rest.get(f"/rest/v1/lists/{WELCOME_LIST}.json")["result"][0]["description"] == (
        "The leads Welcome Batch sends to.")
    assert rest.error("GET", "/rest/v1/lists/9.json") == "1013"
    assert rest.get("/rest/v1/lists.json", name="vip list")["result"] == []  # exact names


def test_add_remove_and_member_of_list_answer_per_lead(rest: Rest) -> None:
    ann, bob = sync_rest(rest, "ann@example.com", "bob@example.com")
    path = f"/rest/v1/lists/{VIP_LIST}/leads.json"
    added = rest.post(path, {"input": [{"id": ann}, {"id": 999}]})["result"]
    assert added == [{"id": ann, "status": "added"}, {"id": 999, "status": "skipped",
                      "reasons": [{"code": "1004", "message": "Lead not found"}]}]
    assert rest.post(path, None, id=f"{bob},{ann}")["result"] == [
        {"id": bob, "status": "added"}, {"id": ann, "status": "added"}]  # a member again
    member = rest.get(f"/rest/v1/lists/{VIP_LIST}/leads/ismember.json", id=f"{ann},{bob},999")
    assert [r.get("status") for r in member["result"]] == ["memberof", "memberof", "skipped"]
    removed = ok(rest.request("DELETE", path, json={"input": [{"id": ann}, {"id": ann}]}))
    assert removed["result"] == [{"id": ann, "status": "removed"}, {"id": ann,
                                 "status": "skipped", "reasons": [
                                     {"code": "1015", "message": "Lead not in list"}]}]
    assert members(rest, VIP_LIST) == [bob]
    leads = rest.get(path, fields="email")["result"]
    assert leads == [{"id": bob, "email": "bob@example.com"}]


def test_list_calls_refuse_bad_input(rest: Rest) -> None:
    path = f"/rest/v1/lists/{VIP_LIST}/leads.json"
    assert rest.error("POST", path, json={"input": [{"id": i} for i in range(1, 302)]}) == "1003"
    assert rest.error("POST", "/rest/v1/lists/9/leads.json", json={"input": [{"id": 1}]}) \
        == "1013"
    assert rest.error("POST", path, json={"input": []}) == "1002"
    assert rest.error("PUT", path) == "605"


def test_soap_and_rest_share_the_lists(tmp_path: Path) -> None:
    with serving_rest(tmp_path, None) as rest:
        ann = rest.soap.sync_id("ann@example.com")
        rest.soap.call("listOperation", list_op("ADDTOLIST", [("IDNUM", str(ann))]))
        member = rest.get(f"/rest/v1/lists/{VIP_LIST}/leads/ismember.json", id=str(ann))
        assert member["result"] == [{"id": ann, "status": "memberof"}]


# -- REST bulk import --------------------------------------------------------------------------


def upload(rest: Rest, data: bytes, **query: str) -> Any:
    return rest.request("POST", "/bulk/v1/leads.json", params={"format": "csv", **query},
                        files={"file": ("leads.csv", data, "text/csv")})


def test_a_bulk_import_into_a_list_is_queued_then_complete_with_a_failure_file(
        tmp_path: Path) -> None:
    with serving_rest(tmp_path, None, import_status_checks=1) as rest:
        (old,) = sync_rest(rest, "old@example.com")
        created = ok(upload(rest, b"email,firstName\nold@example.com,Old\n"
                                  b"new@example.com,New\n,Nobody\n", listId=str(VIP_LIST)))
        (job,) = created["result"]
        assert job == {"batchId": job["batchId"], "importId": str(job["batchId"]),
                       "status": "Queued"}
        path = f"/bulk/v1/leads/batch/{job['batchId']}"
        first = rest.get(f"{path}.json")["result"][0]
        assert (first["status"], first["numOfLeadsProcessed"]) == ("Importing", 0)
        done = rest.get(f"{path}.json")["result"][0]
        assert (done["status"], done["numOfLeadsProcessed"], done["numOfRowsFailed"]) == (
            "Complete", 2, 1)
        assert done["message"] == ("Import completed with errors, 2 records imported "
                                   "(2 members), 1 failed")
        failures = rest.request("GET", f"{path}/failures.json")
        assert failures.headers["Content-Type"] == "text/csv;charset=UTF-8"
        assert failures.text.splitlines() == [
            "email,firstName,Import Failure Reason",
            ",Nobody,Missing value for the required parameter 'email'"]
        warnings = rest.request("GET", f"{path}/warnings.json")
        assert warnings.text.splitlines() == ["email,firstName,Import Warning Reason"]
        new = next(lead["id"] for lead in rest.leads() if lead["email"] == "new@example.com")
        assert members(rest, VIP_LIST) == [old, new]


def test_bulk_import_refusals(tmp_path: Path) -> None:
    with serving_rest(tmp_path, None, import_status_checks=1) as rest:
        assert failure(upload(rest, b"email,trouserSize\na@example.com,32\n"))["code"] == "1006"
        assert failure(upload(rest, b"email\n"))["code"] == "1003"  # Empty File
        assert failure(upload(rest, b"email\na@x.com\n", listId="9"))["code"] == "1013"
        no_file = rest.request("POST", "/bulk/v1/leads.json", params={"format": "csv"},
                               files={"other": ("x.csv", b"email\na@x.com\n", "text/csv")})
        assert failure(no_file)["code"] == "613"
        assert failure(rest.request("POST", "/bulk/v1/leads.json", params={"format": "csv"},
                                    json={"email": "a@x.com"}))["code"] == "613"
        assert failure(upload(rest, b"email\na@x.com\n", format="xml"))["code"] == "1003"
        ok(upload(rest, b"email\na@x.com\n", listId=str(VIP_LIST)))
        busy = upload(rest, b"email\nb@x.com\n", listId=str(VIP_LIST))
        assert failure(busy) == {"code": "1019", "message": "Import in progress"}
        assert rest.error("GET", "/bulk/v1/leads/batch/99.json") == "1013"


# -- the database -----------------------------------------------------------------------------


def test_a_schema_4_database_gains_the_list_tables_and_keeps_its_leads(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with serving(tmp_path, None) as client:
        client.sync_id("kept@example.com")
        db = client.info.db_path
    raw = sqlite3.connect(db)
    raw.executescript("DROP TABLE list_members; DROP TABLE imports; PRAGMA user_version=4;")
    raw.close()
    with open_store(db) as store:
        assert store.rows("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 5
        assert [lead["email"] for lead in store.leads()] == ["kept@example.com"]
        assert store.list_members(VIP_LIST) == [] and store.imports() == []
