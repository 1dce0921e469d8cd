"""requestCampaign: run leads through a trigger campaign ("Campaign is Requested", source Web
Service API), 100 lead keys a call (mktows-reference.md §3.4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from runner.operations import shapes
from runner.operations.spec import Batching, Finding, Operation, Output, Params, SoapEncoding
from runner.soap import elements as el


def _rules(params: Params) -> Iterator[Finding]:
    by_id = "campaignId" in params
    names = [k for k in ("programName", "campaignName") if k in params]
    if by_id and (names or "programTokenList" in params):
        extra = [*names, *(["programTokenList"] if "programTokenList" in params else [])]
        yield (("campaignId",), f"campaignId must be used alone, not with {', '.join(extra)}",
               "use either campaignId, or programName + campaignName (+ programTokenList)")
    elif not by_id and len(names) < 2:
        missing = {"programName", "campaignName"} - set(names)
        yield ((), f"requestCampaign needs campaignId, or programName + campaignName "
               f"(missing {', '.join(sorted(missing))})",
               "tokens (programTokenList) can only be sent with programName + campaignName")
    yield from shapes.token_rules(params.get("programTokenList"), ("programTokenList",))


def _encode(params: Params) -> Params:
    out = shapes.with_tokens(params)
    if isinstance(out.get("leadList"), list):
        out["leadList"] = {"leadKey": [shapes.lead_key(k) for k in out["leadList"]]}
    return out


def _read(result: Element) -> dict[str, Any]:
    return {"success": el.boolean(el.child(result, "success"))}


OPERATION = Operation(
    name="requestCampaign",
    doc="run leads through a trigger campaign (sends what the campaign sends)",
    outputs={"success": Output("bool", "true when Marketo accepted the request", True)},
    summary=shapes.campaign_label,
    soap=SoapEncoding(encode=_encode, read=_read),
    defaults={"source": "MKTOWS"},
    batching=Batching("leadList", 100),  # Marketo silently drops keys past 100
    idempotent=False,
    rules=_rules,
)
