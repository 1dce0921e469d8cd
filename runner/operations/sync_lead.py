"""syncLead: insert or update one lead (mktows-reference.md §3.2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from runner.operations import rest_shapes, shapes
from runner.operations.spec import (
    Finding,
    Operation,
    Output,
    Params,
    PathT,
    Reference,
    RestApi,
    RestEncoding,
    RestSettings,
    SoapEncoding,
)
from runner.soap import elements as el


def _rules(params: Params) -> Iterator[Finding]:
    yield from shapes.lead_record_rules(params.get("leadRecord"), ("leadRecord",))


def _summary(params: Params) -> str:
    record = params.get("leadRecord") or {}
    return " ".join(f"{k}={record[k]}" for k in shapes.LEAD_KEYS if k in record)


def _encode(params: Params) -> Params:
    out = {k: v for k, v in params.items() if k != "targetWorkspace"}
    if isinstance(out.get("leadRecord"), dict):
        out["leadRecord"] = shapes.lead_record(out["leadRecord"])
    return out


def _read(result: Element) -> dict[str, Any]:
    status = el.child(result, "syncStatus")
    return {
        "leadId": el.integer(el.child(result, "leadId")),
        "status": el.text(el.child(status, "status")),
        "error": el.text(el.child(status, "error")),
        "leadRecord": el.lead_record(el.child(result, "leadRecord")),
    }


def _failed(outputs: dict[str, Any]) -> str | None:
    if outputs.get("status") != "FAILED":
        return None
    return f"the lead record FAILED: {outputs.get('error') or 'no reason given'}"


# -- REST (marketo-rest-reference.md §8: Sync Leads, + Get Lead, + Associate Lead) -----------

def _rest_send(params: Params, api: RestApi) -> dict[str, Any]:
    action, lookup, record = rest_shapes.lead_input(params.get("leadRecord") or {}, api)
    workspace = params.get("targetWorkspace")
    # partitionName travels with createOnly/createOrUpdate only: an update by Id stays in
    # the lead's own partition.
    partition = (api.partition(str(workspace)) if workspace and action != "updateOnly"
                 else None)
    body = rest_shapes.sync_body(action, lookup, [record], partition)
    (status,) = rest_shapes.sync_results(api.post("/v1/leads.json", body, schema="sync-leads"),
                                         [record])
    lead = None
    if status["status"] != "FAILED":
        cookie = params.get("marketoCookie")
        if cookie:  # SOAP's marketoCookie: Associate Lead after the sync (§5.4)
            api.post(f"/v1/leads/{status['leadId']}/associate.json", None,
                     query={"cookie": str(cookie)})
        if rest_shapes.is_true(params.get("returnLead")):  # REST's sync returns no lead (§5.10)
            found = rest_shapes.read_leads(api, "id", str(status["leadId"]))
            lead = rest_shapes.soap_lead(found[0], api) if found else None
    return {**status, "leadRecord": lead}


def _rest_calls(params: Params) -> int:
    return (1 + rest_shapes.is_true(params.get("returnLead"))
            + bool(params.get("marketoCookie")))


def _rest_once(params: Params) -> frozenset[str]:
    needs = set()
    record = params.get("leadRecord")
    if (isinstance(record, dict) and record.get("leadAttributeList")) or (
            rest_shapes.is_true(params.get("returnLead"))):
        needs.add(rest_shapes.DESCRIBE)  # field names, and returnLead's field list
    if params.get("targetWorkspace"):
        needs.add(rest_shapes.PARTITIONS)
    return frozenset(needs)


def _rest_unsupported(params: Params, settings: RestSettings) -> Iterator[Finding]:
    yield from rest_shapes.foreign_id_findings(params.get("leadRecord"), ("leadRecord",),
                                               settings)
    if rest_shapes.is_true(params.get("moveCookie")):
        yield (("moveCookie",), "moveCookie has no REST equivalent",
               "remove moveCookie: over REST, marketoCookie associates the cookie with the "
               "lead (new activity goes to it; earlier activity stays where it was)")
    yield from rest_shapes.workspace_findings(params, settings)


def _rest_notes(params: Params) -> list[str]:
    notes = []
    if rest_shapes.is_true(params.get("returnLead")):
        notes.append("returnLead: +1 REST call a lead (Get Leads by id after Sync Leads)")
    if params.get("marketoCookie"):
        notes.append("marketoCookie: +1 REST call a lead (Associate Lead after Sync Leads)")
    return notes


def _rest_fields(params: Params) -> Iterator[tuple[PathT, str]]:
    record = params.get("leadRecord")
    if isinstance(record, dict):
        yield from rest_shapes.attribute_paths(record.get("leadAttributeList"),
                                               ("leadRecord", "leadAttributeList"))


REST = RestEncoding(send=_rest_send, calls=_rest_calls, unsupported=_rest_unsupported,
                    once=_rest_once, notes=_rest_notes, fields=_rest_fields)

def _references(params: Params) -> Iterator[Reference]:
    workspace = params.get("targetWorkspace")
    if isinstance(workspace, str):
        yield Reference("workspace", ("targetWorkspace",), name=workspace)


OPERATION = Operation(
    name="syncLead",
    doc="insert or update one lead",
    outputs={
        "leadId": Output("int", "the synced lead's Marketo id", 1),
        "status": Output("str", "CREATED, UPDATED or FAILED", "UPDATED"),
        "error": Output("str?", "the sync error, null on success", None),
        "leadRecord": Output("dict?", "the full lead (returnLead: true), else null", None,
                             shapes.SAMPLE_LEAD),
    },
    summary=_summary,
    soap=SoapEncoding(encode=_encode, read=_read, header_params=("targetWorkspace",)),
    defaults={"returnLead": False},
    rules=_rules,
    references=_references,
    failed_records=_failed,
    rest=REST,
)
