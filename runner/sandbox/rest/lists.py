"""Static lists over REST (marketo-rest-reference.md §3.7, §9.8): Get Lists (by id, name,
program, workspace), Get List by id, Get Leads by List Id, Add to List, Remove from List and
Member of List, over the same members as SOAP's listOperation and importToList.

Lead ids come as repeated or comma-separated `id` query parameters or, for add and remove, as
a JSON body `{"input": [{"id": n}]}`; at most 300 (more: 1003). Each id has its own result,
in order: `added` / `removed` / `memberof` / `notmemberof`, or `skipped` with 1004 (no such
lead) or, for a remove, 1015 "Lead not in list". Adding a member again is `added`.
"""

from __future__ import annotations

from typing import Any

from runner.sandbox.fixture import StaticList
from runner.sandbox.rest import paging
from runner.sandbox.rest.call import RestCall
from runner.sandbox.rest.envelope import Answer, RestError, skipped
from runner.sandbox.rest.leads import lead_fields, lead_record
from runner.sandbox.rest.request import listed, one

MAX_IDS = 300


def get_lists(call: RestCall) -> Answer:
    params = call.params()
    ids = {int(v) for v in listed(params, "id") or [] if v.isdigit()}
    wanted = {k: set(v) for k in ("name", "programName", "workspaceName")
              if (v := listed(params, k)) is not None}
    found = []
    for static in call.fixture.lists:
        program = call.fixture.program(static.program)
        workspace = program.workspace if program else ""
        if "id" in params and static.id not in ids:
            continue
        if any(value not in wanted.get(k, {value}) for k, value in (
                ("name", static.name), ("programName", static.program),
                ("workspaceName", workspace))):
            continue
        found.append(static)
    size = paging.batch_size(one(params, "batchSize"))
    query = ("lists", tuple(sorted(ids)), tuple(sorted((k, tuple(sorted(v)))
                                                       for k, v in wanted.items())))
    chunk, extra = paging.page(found, one(params, "nextPageToken"), size, query)
    return Answer([record(call, s) for s in chunk], extra)


def get_list(call: RestCall) -> Answer:
    return Answer([record(call, _list(call))])


def record(call: RestCall, static: StaticList) -> dict[str, Any]:
    """A `StaticList` as the lead-database API writes it (reference §3.7)."""
    program = call.fixture.program(static.program)
    stamp = call.store.program_created(static.program)
    out: dict[str, Any] = {"id": static.id, "name": static.name}
    if static.description:
        out["description"] = static.description
    out.update(programName=static.program,
               workspaceName=program.workspace if program else "Default",
               createdAt=stamp, updatedAt=stamp)
    return out


def members(call: RestCall) -> Answer:
    """Get Leads by List Id: the members, paged, with the requested fields."""
    static = _list(call)
    params = call.params()
    wanted = lead_fields(call, params)
    leads = [lead for i in call.store.member_ids(static.id)
             if (lead := call.store.get(i)) is not None]
    size = paging.batch_size(one(params, "batchSize"))
    query = ("list-members", static.id, tuple(f.rest for f in wanted))
    chunk, extra = paging.page(leads, one(params, "nextPageToken"), size, query)
    return Answer([lead_record(call, lead, wanted) for lead in chunk], extra)


def add(call: RestCall) -> Answer:
    static = _list(call)
    out = []
    for lead_id in _ids(call):
        if call.store.get(lead_id) is None:
            out.append({"id": lead_id, **skipped(1004)})
            continue
        call.store.add_member(static.id, lead_id)
        out.append({"id": lead_id, "status": "added"})
    call.notes.append(_count(out, "added", static))
    return Answer(out)


def remove(call: RestCall) -> Answer:
    static = _list(call)
    out = []
    for lead_id in _ids(call):
        if call.store.get(lead_id) is None:
            out.append({"id": lead_id, **skipped(1004)})
        elif call.store.remove_member(static.id, lead_id):
            out.append({"id": lead_id, "status": "removed"})
        else:
            out.append({"id": lead_id, **skipped(1015)})  # the live text (§3.7)
    call.notes.append(_count(out, "removed", static))
    return Answer(out)


def is_member(call: RestCall) -> Answer:
    static = _list(call)
    out = []
    for lead_id in _ids(call):
        if call.store.get(lead_id) is None:
            out.append({"id": lead_id, **skipped(1004)})
        else:
            member = call.store.is_member(static.id, lead_id)
            out.append({"id": lead_id, "status": "memberof" if member else "notmemberof"})
    return Answer(out)


def _list(call: RestCall) -> StaticList:
    found = call.fixture.static_list_by_id(call.path_id())
    if found is None:
        raise RestError(1013, "List not found")
    return found


def _ids(call: RestCall) -> list[int]:
    """The lead ids of the query (`id`, repeated or comma-separated) or, for a write, of the
    JSON body's `input`; 1003 past 300 or for a value that is not an id."""
    raw: list[Any] = list(listed(call.params(), "id") or [])
    if not raw and call.request.method != "GET" and not call.request.reads:
        data = call.body() or {}
        items = data.get("input")
        if items is not None and not isinstance(items, list):
            raise RestError(1003, "Invalid data: input must be a list of {\"id\": n}")
        raw = [item.get("id") if isinstance(item, dict) else item for item in items or []]
    if not raw:
        raise RestError(1002, "Missing value for the required parameter 'id'")
    if len(raw) > MAX_IDS:
        raise RestError(1003, f"Invalid data: more than {MAX_IDS} lead ids")
    ids = []
    for value in raw:
        if isinstance(value, bool) or not (isinstance(value, int) or (
                isinstance(value, str) and value.isdigit())):
            raise RestError(1001, f"Invalid value '{value}'. Required of type 'integer'")
        ids.append(int(value))
    return ids


def _count(results: list[dict[str, Any]], status: str, static: StaticList) -> str:
    done = sum(1 for r in results if r.get("status") == status)
    return f"{done} of {len(results)} lead(s) {status}, list {static.id}"
