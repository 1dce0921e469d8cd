"""listOperation: add leads to a static list, remove them, or ask whether they are members
(mktows-reference.md §3.1, §6, §8 item 7).

`listKey` MKTOLISTNAME names one of the fixture's static lists (names are unique in the
sandbox); the Sales Insight key types name lists the sandbox does not have (20111, as an
unknown name). Each lead key is resolved like requestCampaign's (keys.py); an EMAIL key may
name several leads, and its status is true only when it is for all of them. At most 1000
keys a call (more: 20110, nothing changed).

The reply as Marketo's captures show it: `success` true and a nil `statusList` when
ADDTOLIST / REMOVEFROMLIST did every key; otherwise, and always for ISMEMBEROFLIST, one
`leadStatus` per key, in order. ADDTOLIST of a member is true (it is a member), REMOVEFROMLIST
of a non-member false. With `strict` true, a key that matches no lead faults the call
(20103) and nothing changes; without it the other keys proceed. 2_2's `skipActivityLog` is
accepted and changes nothing (the sandbox keeps no activity log).
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.fixture import StaticList
from runner.sandbox.ops.base import Call
from runner.sandbox.ops.keys import find_lead_ids
from runner.sandbox.params import boolean, children, required, text

MAX_KEYS = 1000  # lead keys a call (reference §6)
MODES = ("ADDTOLIST", "REMOVEFROMLIST", "ISMEMBEROFLIST")


def list_operation(call: Call) -> str:
    mode = (required(call.params, "listOperation").text or "").strip()
    if mode not in MODES:  # lenient mode only; strict mode's schema check comes first
        raise Fault(20110, f"Bad Parameter: listOperation must be one of {', '.join(MODES)},"
                           f" not {mode!r}")
    static = find_list(call, required(call.params, "listKey"))
    keys = [((text(k, "keyType") or "").strip(), text(k, "keyValue") or "")
            for k in children(required(call.params, "listMemberList"), "leadKey")]
    if len(keys) > MAX_KEYS:
        raise Fault(20110, f"Bad Parameter: {len(keys)} lead keys exceed the limit of"
                           f" {MAX_KEYS} a call")
    found = [find_lead_ids(call.store, call.fixture, kind, value)
             for kind, value in keys]
    if boolean(call.params, "strict"):
        missing = next(((k, v) for (k, v), ids in zip(keys, found, strict=True) if not ids),
                       None)
        if missing is not None:
            raise Fault(20103, f"No lead found with {missing[0]} = {missing[1]}")
    statuses = [_apply(call, mode, static.id, ids) for ids in found]
    success = all(statuses)
    call.notes.append(f"{mode} {static.name!r}: {sum(statuses)} of {len(keys)} key(s) true")
    if success and mode != "ISMEMBEROFLIST":
        return replies.result(replies.el("success", True), replies.el("statusList", None))
    return replies.result(replies.el("success", success), replies.wrap(
        "statusList", *(_status(kind, value, ok)
                        for (kind, value), ok in zip(keys, statuses, strict=True))))


def find_list(call: Call, key: Element) -> StaticList:
    """The static list a ListKey names (20111 List Not Found otherwise)."""
    kind, name = (text(key, "keyType") or "").strip(), text(key, "keyValue") or ""
    found = call.fixture.static_list(name) if kind == "MKTOLISTNAME" else None
    if found is None:
        what = ("the sandbox has no Sales Insight lists" if kind != "MKTOLISTNAME"
                else "no static list has this name")
        raise Fault(20111, f"List Not Found: {kind} {name!r} ({what})")
    return found


def _apply(call: Call, mode: str, list_id: int, lead_ids: list[int]) -> bool:
    if not lead_ids:
        return False
    store = call.store
    if mode == "ADDTOLIST":
        for lead_id in lead_ids:
            store.add_member(list_id, lead_id)
        return True
    if mode == "REMOVEFROMLIST":
        return all([store.remove_member(list_id, lead_id) for lead_id in lead_ids])
    return all(store.is_member(list_id, lead_id) for lead_id in lead_ids)


def _status(kind: str, value: str, ok: bool) -> str:
    key = replies.wrap("leadKey", replies.el("keyType", kind), replies.el("keyValue", value))
    return replies.wrap("leadStatus", key, replies.el("status", ok))
