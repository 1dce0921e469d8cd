"""syncMultipleLeads: insert or update up to 300 leads a call (mktows-reference.md §3.3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from runner.operations import shapes
from runner.operations.spec import Batching, Finding, Operation, Output, Params, SoapEncoding
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
)
