"""scheduleCampaign: run a batch campaign now or at a time, optionally cloning its program
first (mktows-reference.md §3.5)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

from runner.operations import shapes
from runner.operations.spec import Finding, Operation, Output, Params, SoapEncoding
from runner.soap import elements as el

_W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")


def _rules(params: Params) -> Iterator[Finding]:
    run_at = params.get("campaignRunAt")
    if isinstance(run_at, str) and not shapes.is_expression(run_at):
        valid = bool(_W3C.match(run_at))
        if valid:
            try:
                datetime.fromisoformat(run_at)
            except ValueError:
                valid = False
        if not valid:
            yield (("campaignRunAt",), f"{run_at!r} is not a date-time with a UTC offset",
                   "write e.g. 2026-12-01T09:00:00-06:00")
    yield from shapes.token_rules(params.get("programTokenList"), ("programTokenList",))


def _summary(params: Params) -> str:
    extra = f" clone→{params['cloneToProgramName']}" if params.get("cloneToProgramName") else ""
    extra += f" at {params['campaignRunAt']}" if params.get("campaignRunAt") else ""
    return shapes.campaign_label(params) + extra


def _read(result: Element) -> dict[str, Any]:
    return {"success": el.boolean(el.child(result, "success"))}


OPERATION = Operation(
    name="scheduleCampaign",
    doc="schedule a batch campaign (sends what the campaign sends)",
    outputs={"success": Output("bool", "true when Marketo scheduled the run", True)},
    summary=_summary,
    soap=SoapEncoding(encode=shapes.with_tokens, read=_read),
    idempotent=False,
    rules=_rules,
)
