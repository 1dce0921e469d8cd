"""listOperation: add leads to a static list, remove them, or ask whether they are members
(mktows-reference.md §3.1 ListOperationType, §6 "1000 leads per call", §8 item 7).

Marketo answers `success` and, per lead key, a `leadStatus`: when every key succeeded,
ADDTOLIST and REMOVEFROMLIST come back with a nil `statusList`; ISMEMBEROFLIST lists every
key, `status` true for a member. A key that matched no lead is `status` false, never a
fault (unless `strict`). ADDTOLIST and REMOVEFROMLIST are idempotent (a member added again
stays a member), ISMEMBEROFLIST is a read, so every mode may be resent. Only ADDTOLIST fails
its call on a false status: a lead that was not added is a record that did not make it,
while "not a member" is a normal answer to the other two.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from runner.errors import ResponseError, RestError
from runner.operations import rest_shapes, shapes
from runner.operations.spec import (
    Batching,
    Finding,
    Operation,
    Output,
    Params,
    RestApi,
    RestEncoding,
    RestSettings,
    SoapApi,
    SoapEncoding,
    Waiter,
)
from runner.soap import elements as el

MAX_KEYS = 1000  # lead keys a call (§6); REST takes 300 ids a call (marketo-rest §3.7)
MAX_REST_IDS = 300
MAX_LISTED = 20  # keys named in a failure message; every one is in the outputs
MODES = ("ADDTOLIST", "REMOVEFROMLIST", "ISMEMBEROFLIST")
LIST_BY_NAME = "MKTOLISTNAME"
# Lists REST cannot name: Sales Insight's lead-owner lists have no REST API.
SALES_LISTS = ("MKTOSALESUSERID", "SFDCLEADOWNERID")
_DONE = {"ADDTOLIST": "added", "REMOVEFROMLIST": "removed", "ISMEMBEROFLIST": "memberof"}
_REST_CALL = {"ADDTOLIST": "Add to List", "REMOVEFROMLIST": "Remove from List",
              "ISMEMBEROFLIST": "Member of List"}


def list_key(value: Any) -> Any:
    """`listKey` as written: a mapping {keyType, keyValue}, or a list's name alone."""
    if isinstance(value, str):
        return {"keyType": LIST_BY_NAME, "keyValue": value}
    if isinstance(value, dict) and "keyValue" in value:
        return {**value, "keyValue": shapes.text(value["keyValue"])}
    return value


def _rules(params: Params) -> Iterator[Finding]:
    keys = params.get("listMemberList")
    if isinstance(keys, list) and not keys:
        yield (("listMemberList",), "listMemberList has no lead keys",
               "list the leads, e.g. [{keyType: IDNUM, keyValue: 42}]")
    key = list_key(params.get("listKey"))
    if isinstance(key, dict) and key.get("keyValue") == "":
        yield (("listKey",), "the list's name is empty", "name a static list")


def _summary(params: Params) -> str:
    key = list_key(params.get("listKey")) or {}
    name = key.get("keyValue") if isinstance(key, dict) else key
    return f"{params.get('listOperation')} {name}"


def _encode(params: Params) -> Params:
    out = dict(params)
    if "listKey" in out:
        out["listKey"] = list_key(out["listKey"])
    if isinstance(out.get("listMemberList"), list):
        out["listMemberList"] = {"leadKey": [shapes.lead_key(k) for k in out["listMemberList"]]}
    return out


def _read(result: Element) -> dict[str, Any]:
    statuses = [
        {"leadKey": {"keyType": el.text(el.child(el.child(s, "leadKey"), "keyType")),
                     "keyValue": el.text(el.child(el.child(s, "leadKey"), "keyValue"))},
         "status": bool(el.boolean(el.child(s, "status")))}
        for s in el.children(el.child(result, "statusList"), "leadStatus")
    ]
    return {"success": bool(el.boolean(el.child(result, "success"))), "statusList": statuses,
            "listOperation": None}


def _follow(params: Params, outputs: dict[str, Any], api: SoapApi,
            waiter: Waiter) -> dict[str, Any]:
    # The reply does not say which operation it answers; the outputs do (failed_records).
    return {**outputs, "listOperation": params.get("listOperation")}


def _failed(outputs: dict[str, Any]) -> str | None:
    if outputs.get("listOperation") != "ADDTOLIST" or outputs.get("success") is not False:
        return None
    missed = [s.get("leadKey") or {} for s in outputs.get("statusList") or []
              if s.get("status") is False]
    shown = ", ".join(f"{k.get('keyType')} {k.get('keyValue')}" for k in missed[:MAX_LISTED])
    more = f", and {len(missed) - MAX_LISTED} more" if len(missed) > MAX_LISTED else ""
    count = f"{len(missed)} lead key(s) were" if missed else "some lead keys were"
    return (f"{count} not added to the list (no lead matched them): {shown or 'not listed'}"
            f"{more}")


# -- REST (marketo-rest-reference.md §3.7: Add to / Remove from / Member of List) ----------

def _rest_send(params: Params, api: RestApi) -> dict[str, Any]:
    mode = str(params.get("listOperation"))
    key = list_key(params.get("listKey")) or {}
    if key.get("keyType") != LIST_BY_NAME:
        raise RestError(None, f"a {key.get('keyType')} list has no REST equivalent")
    keys = [k for k in params.get("listMemberList") or [] if isinstance(k, dict)]
    with rest_shapes.before_write("no list was changed"):
        list_id = api.list_id(str(key.get("keyValue")))
        per_key = _lead_ids(keys, api)
    ids = list(dict.fromkeys(i for found in per_key for i in found))
    done: dict[int, bool] = {}
    for start in range(0, len(ids), MAX_REST_IDS):
        done.update(_list_call(api, mode, list_id, ids[start:start + MAX_REST_IDS]))
    statuses = [{"leadKey": {"keyType": str(k.get("keyType")),
                             "keyValue": str(shapes.text(k.get("keyValue")))},
                 "status": bool(found) and all(done.get(i, False) for i in found)}
                for k, found in zip(keys, per_key, strict=True)]
    success = all(s["status"] for s in statuses)
    # As SOAP answers: a nil statusList when ADDTOLIST / REMOVEFROMLIST did every key.
    shown = statuses if mode == "ISMEMBEROFLIST" or not success else []
    return {"success": success, "statusList": shown, "listOperation": mode}


def _lead_ids(keys: list[dict[str, Any]], api: RestApi) -> list[list[int]]:
    """The lead ids each key names: IDNUM as it is (REST says whether it exists), the other
    types looked up (one Get Leads per type and 300 values)."""
    by_type: dict[str, list[str]] = {}
    for k in keys:
        if k.get("keyType") != "IDNUM":
            value = str(shapes.text(k.get("keyValue")))
            by_type.setdefault(str(k.get("keyType")), []).append(value)
    found = {t: api.leads_by_key(t, values) for t, values in by_type.items()}
    out = []
    for k in keys:
        value = str(shapes.text(k.get("keyValue")))
        if k.get("keyType") == "IDNUM":
            out.append([rest_shapes.lead_id(value, "IDNUM key")])
        else:
            out.append(found[str(k.get("keyType"))].get(value, []))
    return out


def _list_call(api: RestApi, mode: str, list_id: int, ids: list[int]) -> dict[int, bool]:
    path = f"/v1/lists/{list_id}/leads.json"
    if mode == "ISMEMBEROFLIST":
        reply = api.get(f"/v1/lists/{list_id}/leads/ismember.json",
                        {"id": ",".join(str(i) for i in ids)})
    else:
        body = {"input": [{"id": i} for i in ids]}
        reply = (api.post(path, body, schema="list-leads") if mode == "ADDTOLIST"
                 else api.delete(path, body, schema="list-leads"))
    results = reply.get("result")
    if not isinstance(results, list):
        raise ResponseError(f"the list call answered no result for {len(ids)} lead(s)")
    wanted = _DONE.get(mode)
    out = {}
    for item in results:
        if isinstance(item, dict) and isinstance(item.get("id"), int):
            out[int(item["id"])] = item.get("status") == wanted
    return out


def _key_types(params: Params) -> set[str]:
    keys = params.get("listMemberList")
    if not isinstance(keys, list):
        return set()
    return {str(k.get("keyType")) for k in keys if isinstance(k, dict)} - {"IDNUM"}


def _rest_calls(params: Params) -> int:
    keys = params.get("listMemberList")
    count = len(keys) if isinstance(keys, list) else 1
    return max(1, -(-count // MAX_REST_IDS)) + len(_key_types(params))


def _rest_once(params: Params) -> frozenset[str]:
    key = list_key(params.get("listKey"))
    name = key.get("keyValue") if isinstance(key, dict) else None
    return frozenset({f"list:{name}"}) if name else frozenset()


def _rest_unsupported(params: Params, settings: RestSettings) -> Iterator[Finding]:
    key = list_key(params.get("listKey"))
    if isinstance(key, dict) and key.get("keyType") in SALES_LISTS:
        yield (("listKey", "keyType"), f"a {key.get('keyType')} list (Sales Insight) has no "
               "REST equivalent: REST's list calls take a static list's id",
               "use a static list, named with keyType: MKTOLISTNAME")
    keys = params.get("listMemberList")
    if isinstance(keys, list):
        for i, key_value in enumerate(keys):
            yield from rest_shapes.key_findings(key_value, ("listMemberList", i))


def _rest_notes(params: Params) -> list[str]:
    call = _REST_CALL.get(str(params.get("listOperation")), "the list call")
    notes = [f"over REST: the list's id looked up by name once a run, then {call}, "
             f"{MAX_REST_IDS} lead ids a call"]
    types = sorted(_key_types(params))
    if types:
        notes.append(f"lead keys {', '.join(types)}: +1 REST call each (Get Leads) first")
    return notes


REST = RestEncoding(send=_rest_send, calls=_rest_calls, unsupported=_rest_unsupported,
                    once=_rest_once, notes=_rest_notes)

OPERATION = Operation(
    name="listOperation",
    doc="add leads to a static list, remove them, or check membership",
    outputs={
        "success": Output("bool", "true when every lead key succeeded (ISMEMBEROFLIST: every "
                                  "lead is a member)", True),
        "statusList": Output("list", "one {leadKey, status} per lead key; empty when "
                                     "ADDTOLIST / REMOVEFROMLIST did every key", [],
                             {"leadKey": {"keyType": "IDNUM", "keyValue": "1"},
                              "status": True}),
        "listOperation": Output("str", "the operation done: ADDTOLIST, REMOVEFROMLIST or "
                                       "ISMEMBEROFLIST", "ADDTOLIST"),
    },
    summary=_summary,
    soap=SoapEncoding(encode=_encode, read=_read, follow=_follow),
    batching=Batching("listMemberList", MAX_KEYS),
    outputs_after_loop=True,
    rules=_rules,
    failed_records=_failed,
    rest=REST,
)
