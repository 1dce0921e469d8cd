"""requestCampaign: run leads through a trigger campaign ("Campaign is Requested", source Web
Service API), 100 lead keys a call (mktows-reference.md §3.4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from runner.errors import RestError
from runner.operations import rest_shapes, shapes
from runner.operations.spec import (
    Batching,
    Finding,
    Operation,
    Output,
    Params,
    Reference,
    RestApi,
    RestEncoding,
    RestSettings,
    SoapEncoding,
)
from runner.soap import elements as el

MAX_REST_LEADS = 100  # a trigger's leads (§3.4)


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


# -- REST (marketo-rest-reference.md §8: lookups, then one trigger) ---------------------------

def _rest_send(params: Params, api: RestApi) -> dict[str, Any]:
    if params.get("source", "MKTOWS") != "MKTOWS":
        raise RestError(None, f"source {params.get('source')!r} has no REST equivalent")
    keys = params.get("leadList") or []
    with rest_shapes.before_write():  # however the lookups fail, nothing was requested
        campaign = (rest_shapes.lead_id(params["campaignId"], "campaignId")
                    if "campaignId" in params else
                    api.campaign_id(str(params.get("programName")),
                                    str(params.get("campaignName")), triggerable=True))
        ids = _lead_ids(keys, api)
    if not ids:
        raise RestError(1004, f"none of the {len(keys)} lead key(s) matched a lead, so the "
                              "campaign was not requested")
    if len(ids) > MAX_REST_LEADS:
        # One trigger per call, never two: a call that half ran could not be retried.
        raise RestError(None, f"the {len(keys)} lead key(s) matched {len(ids)} leads; a REST "
                              f"trigger takes at most {MAX_REST_LEADS}: split leadList")
    data: dict[str, Any] = {"leads": [{"id": i} for i in ids]}
    tokens = rest_shapes.tokens(params.get("programTokenList"))
    if tokens:
        data["tokens"] = tokens
    api.post(f"/v1/campaigns/{campaign}/trigger.json", {"input": data},
             schema="trigger-campaign")
    return {"success": True}


def _lead_ids(keys: list[Any], api: RestApi) -> list[int]:
    """IDNUM keys as they are, the others looked up (one Get Leads per key type); each lead
    once. A key that matches nothing is dropped, as over SOAP."""
    ids: dict[int, None] = {}
    by_type: dict[str, list[str]] = {}
    for key in keys:
        key_type = str(key.get("keyType")) if isinstance(key, dict) else ""
        value = str(shapes.text(key.get("keyValue"))) if isinstance(key, dict) else ""
        if key_type == "IDNUM":
            ids[rest_shapes.lead_id(value, "IDNUM key")] = None
        else:
            by_type.setdefault(key_type, []).append(value)
    for key_type, values in by_type.items():
        ids.update((i, None) for i in api.lead_ids(key_type, values))
    return list(ids)


def _key_types(params: Params) -> set[str]:
    keys = params.get("leadList")
    if not isinstance(keys, list):
        return set()
    return {str(k.get("keyType")) for k in keys if isinstance(k, dict)} - {"IDNUM"}


def _rest_calls(params: Params) -> int:
    return 1 + len(_key_types(params))


def _rest_unsupported(params: Params, settings: RestSettings) -> Iterator[Finding]:
    yield from rest_shapes.source_findings(params)
    keys = params.get("leadList")
    if isinstance(keys, list):
        for i, key in enumerate(keys):
            yield from rest_shapes.key_findings(key, ("leadList", i))


def _rest_notes(params: Params) -> list[str]:
    types = sorted(_key_types(params))
    if not types:
        return []
    return [f"lead keys {', '.join(types)}: +1 REST call each (Get Leads) before the trigger"]


REST = RestEncoding(send=_rest_send, calls=_rest_calls, unsupported=_rest_unsupported,
                    once=rest_shapes.campaign_lookup, notes=_rest_notes)

def _references(params: Params) -> Iterator[Reference]:
    return shapes.campaign_reference("trigger", params)


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
    references=_references,
    rest=REST,
)
