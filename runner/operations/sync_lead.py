"""syncLead: insert or update one lead (mktows-reference.md §3.2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from runner.operations import shapes
from runner.operations.spec import Finding, Operation, Output, Params, SoapEncoding
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
    failed_records=_failed,
)
