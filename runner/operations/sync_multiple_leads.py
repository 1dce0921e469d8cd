"""syncMultipleLeads: insert or update up to 300 leads a call (mktows-reference.md §3.3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from runner.operations import rest_shapes, shapes
from runner.operations.spec import (
    Batching,
    Finding,
    Operation,
    Output,
    Params,
    PathT,
    RestApi,
    RestEncoding,
    RestSettings,
    SoapEncoding,
)
from runner.soap import elements as el

MAX_LISTED_FAILURES = 20  # records named in a failure message; every one is in the outputs


def _rules(params: Params) -> Iterator[Finding]:
    records = params.get("leadRecordList")
    if isinstance(records, list):
        for i, record in enumerate(records):
            yield from shapes.lead_record_rules(record, ("leadRecordList", i))


def _summary(params: Params) -> str:
    return ""  # the plan shows the record count beside it


def _encode(params: Params) -> Params:
    out = dict(params)
    if isinstance(out.get("leadRecordList"), list):
        out["leadRecordList"] = {"leadRecord": [shapes.lead_record(r)
                                                for r in out["leadRecordList"]]}
    return out


def _read(result: Element) -> dict[str, Any]:
    statuses = [el.sync_status(s) for s in
                el.children(el.child(result, "syncStatusList"), "syncStatus")]
    # leadIds are the leads that exist now: a FAILED record's id is no lead of ours.
    return {"syncStatusList": statuses,
            "leadIds": [s["leadId"] for s in statuses if s["status"] != "FAILED"]}


def _failed(outputs: dict[str, Any]) -> str | None:
    # Marketo answers success with status FAILED per record; that is no success for the user.
    statuses = outputs.get("syncStatusList") or []
    failed = [(i, s) for i, s in enumerate(statuses, 1) if s.get("status") == "FAILED"]
    if not failed:
        return None
    shown = "; ".join(f"record {i}: {s.get('error') or 'no reason given'}"
                      for i, s in failed[:MAX_LISTED_FAILURES])
    more = (f"; and {len(failed) - MAX_LISTED_FAILURES} more"
            if len(failed) > MAX_LISTED_FAILURES else "")
    return f"{len(failed)} of {len(statuses)} record(s) FAILED: {shown}{more}"


# -- REST (marketo-rest-reference.md §8: one Sync Leads per lookup class present) ------------

def _dedup(params: Params) -> bool:
    return params.get("dedupEnabled") not in (False, "false")


def _rest_send(params: Params, api: RestApi) -> dict[str, Any]:
    records = params.get("leadRecordList") or []
    groups: dict[tuple[str, str | None], list[tuple[int, dict[str, Any]]]] = {}
    for i, record in enumerate(records):  # all translated before the first write
        # SOAP's syncMultipleLeads keeps a lead's Email when it is found by Id (§3.3).
        action, lookup, rest = rest_shapes.lead_input(record, api, dedup=_dedup(params),
                                                      email_follows_id=False)
        groups.setdefault((action, lookup), []).append((i, rest))
    statuses: list[dict[str, Any]] = [{} for _ in records]
    for (action, lookup), items in groups.items():
        sent = [rest for _, rest in items]
        reply = api.post("/v1/leads.json", rest_shapes.sync_body(action, lookup, sent),
                         schema="sync-leads")
        # Back into input order: results match the records sent by position.
        for (i, _), status in zip(items, rest_shapes.sync_results(reply, sent), strict=True):
            statuses[i] = status
    return {"syncStatusList": statuses,
            "leadIds": [s["leadId"] for s in statuses if s["status"] != "FAILED"]}


def _class(record: Any, dedup: bool) -> str:
    if not isinstance(record, dict):
        return "email"
    for key in ("Id", "ForeignSysPersonId"):
        if record.get(key) not in (None, ""):
            return key
    return "email" if dedup else "duplicate"


def _rest_calls(params: Params) -> int:
    records = params.get("leadRecordList")
    if not isinstance(records, list):
        return 1
    return max(1, len({_class(r, _dedup(params)) for r in records})) if records else 0


def _rest_once(params: Params) -> frozenset[str]:
    records = params.get("leadRecordList")
    if isinstance(records, list) and not any(
            isinstance(r, dict) and r.get("leadAttributeList") for r in records):
        return frozenset()
    return frozenset({rest_shapes.DESCRIBE})


def _rest_unsupported(params: Params, settings: RestSettings) -> Iterator[Finding]:
    records = params.get("leadRecordList")
    if isinstance(records, list):
        for i, record in enumerate(records):
            yield from rest_shapes.foreign_id_findings(record, ("leadRecordList", i), settings)


def _rest_notes(params: Params) -> list[str]:
    if _rest_calls(params) > 1:
        return ["records keyed by Id, ForeignSysPersonId and Email go in separate Sync Leads "
                "calls (one per lookup field)"]
    return []


def _rest_fields(params: Params) -> Iterator[tuple[PathT, str]]:
    records = params.get("leadRecordList")
    if isinstance(records, list):
        for i, record in enumerate(records):
            if isinstance(record, dict):
                yield from rest_shapes.attribute_paths(
                    record.get("leadAttributeList"), ("leadRecordList", i, "leadAttributeList"))


REST = RestEncoding(send=_rest_send, calls=_rest_calls, unsupported=_rest_unsupported,
                    once=_rest_once, notes=_rest_notes, fields=_rest_fields)

OPERATION = Operation(
    name="syncMultipleLeads",
    doc="insert or update leads, 300 records a call",
    outputs={
        "syncStatusList": Output("list", "one {leadId, status, error} per record, in order", [],
                                 {"leadId": 1, "status": "CREATED", "error": None}),
        "leadIds": Output("list", "the synced leads' ids, in input order (FAILED records left out)",
                          [], 1),
    },
    summary=_summary,
    soap=SoapEncoding(encode=_encode, read=_read),
    batching=Batching("leadRecordList", 300),
    outputs_after_loop=True,
    rules=_rules,
    failed_records=_failed,
    rest=REST,
)
