"""importToList: import leads into a static list from CSV rows, and wait until Marketo has
finished (mktows-reference.md §3.8; over REST marketo-rest-reference.md §3.7, §3.8).

Marketo answers an import at once, typically `PROCESSING`, and imports afterwards. The step
waits for the outcome itself: it asks getImportToListStatus right after the reply, then
every `wait.interval` (default 1m: Marketo asks for no more than one status call a minute)
until the import is COMPLETE, FAILED or CANCELED, or `wait.timeout` (default 30m) runs out.
Each status is shown as progress. Running out of time, an import that FAILED or was
CANCELED, and rows that failed all fail the call, with the reason; Marketo may still be
importing when the wait ends, which the message says.

Idempotent: importing the same rows again leaves the same leads, values and list members
(UPSERTLEADS upserts by email, LISTONLY and clearList converge on the same list), and an
import sends nothing to anyone. So a call whose outcome is unknown may be sent again, and a
status check that failed in transit is only tried again at the next interval.

A looped step gathers its rows into one import (at most MAX_IMPORT_ROWS a call; more make
several imports, one after the other at the default --concurrency 1, and only the first
clears the list).

Over REST, UPSERTLEADS is Bulk Import Leads with `listId`, REST's one call that upserts and
adds to a list, polled the same way; it reports counts and a failure file, not a result per
row (nor did SOAP). LISTONLY is Get Leads by email then Add to List. clearList is read the
list's members, then Remove from List.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from runner.errors import ResponseError, RestError, SoapFaultError, TransportError
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

MAX_IMPORT_ROWS = 100_000  # rows one import takes; more rows make more imports
DEFAULT_TIMEOUT_S = 30 * 60.0
DEFAULT_INTERVAL_S = 60.0  # Marketo: no more than one status call a minute (§3.8)
MIN_INTERVAL_S = 1.0  # below Marketo's minute for sandboxes; never a busy loop
MAX_TIMEOUT_S = 24 * 3600.0
MAX_CHECK_ERRORS = 3  # status checks in a row that may fail in transit before the call does
MAX_LISTED = 20  # failed rows named in a failure message; every one is in the outputs
DONE = ("COMPLETE", "FAILED", "CANCELED")
EMAIL_COLUMNS = ("email address", "email")  # the display name and the API names
MAX_BULK_BYTES = 9 * 1024 * 1024  # Bulk Import takes files under 10 MB (§3.8)
MAX_REST_IDS = 300
_TOKEN = re.compile(r"^\{\{my\.[^{}]+\}\}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# Status checks refused before Marketo acted on them: tried again at the next interval.
_REFUSED = frozenset({20023, 20024, 606, 615})
_BULK_STATUS = {"Queued": "PROCESSING", "Importing": "PROCESSING", "Complete": "COMPLETE",
                "Failed": "FAILED", "Cancelled": "CANCELED", "Canceled": "CANCELED"}


# -- the playbook's values -------------------------------------------------------------------

def duration(value: Any) -> float | None:
    """Seconds from 90, 2.5, "90s", "10m", "1h"; None when it is not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    found = _DURATION.match(value) if isinstance(value, str) else None
    return float(found[1]) * _UNITS[found[2] or "s"] if found else None


@dataclass(frozen=True)
class Wait:
    timeout: float = DEFAULT_TIMEOUT_S
    interval: float = DEFAULT_INTERVAL_S


@dataclass
class _State:
    """An import's status as either API reports it, in SOAP's terms."""

    status: str
    imported: int | None = None
    failed: int | None = None
    ignored: int | None = None
    summary: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)


def wait_options(params: Params) -> Wait:
    """`wait: {timeout, interval}` as resolved; the rules checked what was written."""
    written = params.get("wait")
    given: dict[str, Any] = written if isinstance(written, dict) else {}
    timeout = duration(given.get("timeout", DEFAULT_TIMEOUT_S))
    interval = duration(given.get("interval", DEFAULT_INTERVAL_S))
    return Wait(DEFAULT_TIMEOUT_S if timeout is None else min(timeout, MAX_TIMEOUT_S),
                DEFAULT_INTERVAL_S if interval is None else max(interval, MIN_INTERVAL_S))


def csv_line(cells: list[Any]) -> str:
    """One CSV line, quoted where a value needs it (a comma, a quote, a line break)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(
        ["" if c is None else shapes.text(c) for c in cells])
    return out.getvalue()


def cells(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def header_cells(value: Any) -> list[str] | None:
    """The header's column names, when known at load (None: a ${...} value)."""
    if isinstance(value, list) and not any(shapes.is_expression(c) for c in value):
        return [str(c) for c in value]
    if isinstance(value, str) and not shapes.is_expression(value):
        return cells(value)
    return None


def _line(row: Any) -> str:
    return csv_line(row) if isinstance(row, list) else str(shapes.text(row))


def _is_email(column: str) -> bool:
    return column.strip().casefold() in EMAIL_COLUMNS


# -- rules -------------------------------------------------------------------------------------

def _rules(params: Params) -> Iterator[Finding]:
    header = header_cells(params.get("importFileHeader"))
    if header is not None:
        yield from _header_rules(header, params)
    rows = params.get("importFileRows")
    if isinstance(rows, list) and not rows:
        yield (("importFileRows",), "importFileRows has no rows",
               "list the rows, or loop over a data file (one row per item)")
    if header and isinstance(rows, list):
        for i, row in enumerate(rows):
            width = _width(row)
            if width is not None and width != len(header):
                yield (("importFileRows", i), f"a row of {width} value(s) for a header of "
                       f"{len(header)} column(s)", "give every row one value per column")
    yield from _wait_rules(params.get("wait"))


def _header_rules(header: list[str], params: Params) -> Iterator[Finding]:
    where = ("importFileHeader",)
    if not any(c.strip() for c in header):
        yield (where, "the header names no column",
               "name the columns by the fields' display names, e.g. [Email Address, First Name]")
        return
    seen: set[str] = set()
    for column in header:
        if column.casefold() in seen:
            yield (where, f"column {column!r} is named twice", None)
        seen.add(column.casefold())
    tokens = [c for c in header if _TOKEN.match(c.strip())]
    if tokens and params.get("campaignName") in (None, ""):
        yield (where, f"per-lead token column(s) {', '.join(tokens)} need campaignName",
               "name the batch campaign the tokens are for in campaignName")
    if params.get("importListMode") == "LISTONLY" and not any(_is_email(c) for c in header):
        yield (where, "LISTONLY finds each row's lead by email: the header has no Email "
               "Address column", "add an Email Address column")


def _width(row: Any) -> int | None:
    if isinstance(row, list):
        return len(row)
    if isinstance(row, str) and not shapes.is_expression(row):
        return len(cells(row))
    return None


def _wait_rules(value: Any) -> Iterator[Finding]:
    if not isinstance(value, dict):
        return
    for name, low, high in (("timeout", 0.0, MAX_TIMEOUT_S), ("interval", MIN_INTERVAL_S,
                                                              MAX_TIMEOUT_S)):
        if name not in value or shapes.is_expression(value[name]):
            continue
        seconds = duration(value[name])
        if seconds is None or not low <= seconds <= high:
            yield (("wait", name), f"{value[name]!r} is not a {name} from "
                   f"{_shown(low)} to {_shown(high)}",
                   "write seconds (90) or a duration: 90s, 10m, 1h")


def _shown(seconds: float) -> str:
    for unit, size in (("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


# -- SOAP -------------------------------------------------------------------------------------

def _summary(params: Params) -> str:
    clear = " (clearList)" if params.get("clearList") in (True, "true") else ""
    return (f"{params.get('importListMode')} into {params.get('programName')} / "
            f"{params.get('listName')}{clear}")


def _encode(params: Params) -> Params:
    out = {k: v for k, v in params.items() if k != "wait"}
    header = out.get("importFileHeader")
    if isinstance(header, list):
        out["importFileHeader"] = csv_line(header)
    rows = out.get("importFileRows")
    if isinstance(rows, list):
        out["importFileRows"] = {"stringItem": [_line(r) for r in rows]}
    # Required and nillable: nil when no per-lead token column needs a campaign (§3.8).
    out["campaignName"] = out.get("campaignName") or None
    return out


def _read(result: Element) -> dict[str, Any]:
    """The import's own reply: its first status, nothing counted yet (the wait fills in the
    rest)."""
    return _outputs(_State(el.text(el.child(result, "importStatus")) or "PROCESSING"), 0, "")


def _read_status(result: Element) -> dict[str, Any]:
    return {name: (el.integer(el.child(result, name)) if kind == "int"
                   else el.text(el.child(result, name)))
            for name, kind in _STATUS_FIELDS}


_STATUS_FIELDS = (("status", "str"), ("startedTime", "str"), ("endedTime", "str"),
                  ("estimatedTime", "int"), ("estimatedRows", "int"), ("rowsImported", "int"),
                  ("rowsFailed", "int"), ("rowsIgnored", "int"), ("importSummary", "str"))

# getImportToListStatus: how the step waits over SOAP. Not a playbook step of its own (the
# import's step asks it), so it is not in the registry.
STATUS = Operation(
    name="getImportToListStatus",
    doc="the status of the latest import into a list",
    outputs={name: Output("int?" if kind == "int" else "str?", name, None)
             for name, kind in _STATUS_FIELDS},
    summary=lambda params: f"{params.get('programName')} / {params.get('listName')}",
    soap=SoapEncoding(encode=dict, read=_read_status),
    writes=False,
)


def _follow(params: Params, outputs: dict[str, Any], api: SoapApi,
            waiter: Waiter) -> dict[str, Any]:
    ask = {"programName": params.get("programName"), "listName": params.get("listName")}

    def check() -> _State:
        status = api.read(STATUS, ask)
        return _State(str(status.get("status") or "PROCESSING"), status.get("rowsImported"),
                      status.get("rowsFailed"), status.get("rowsIgnored"),
                      status.get("importSummary"))

    deadline = waiter.clock() + wait_options(params).timeout
    state, checks, waited = _wait(check, params, deadline, waiter, _label(params))
    return _outputs(state, checks, waited)


# -- waiting (both APIs) -----------------------------------------------------------------------

def _label(params: Params) -> str:
    return f"import into {params.get('programName')} / {params.get('listName')}"


def _wait(check: Callable[[], _State], params: Params, deadline: float, waiter: Waiter,
          label: str) -> tuple[_State, int, str]:
    """Check at once, then every interval, until the import is done ("done"), the deadline
    passes ("timeout") or the run stops ("stopped"). A check that fails in transit, or is
    refused by a limit, is tried again at the next interval, at most MAX_CHECK_ERRORS in a
    row; any other failure is the call's."""
    interval = wait_options(params).interval
    started = waiter.clock()
    state, checks, errors = _State("PROCESSING"), 0, 0
    while True:
        try:
            state = check()
            checks, errors = checks + 1, 0
            waiter.say(_progress(label, state, checks, waiter.clock() - started))
            if state.status in DONE:
                return state, checks, "done"
        except (TransportError, SoapFaultError, RestError) as exc:
            if not _passing(exc) or errors >= MAX_CHECK_ERRORS:
                raise
            errors += 1
            waiter.say(f"{label}: status check failed ({exc}); trying again")
        left = deadline - waiter.clock()
        if left <= 0:
            return state, checks, "timeout"
        if not waiter.pause(min(interval, left)):
            return state, checks, "stopped"


def _passing(exc: Exception) -> bool:
    """A failed status check worth another try: it did not arrive, or a limit refused it."""
    if isinstance(exc, TransportError):
        return True
    return isinstance(exc, SoapFaultError | RestError) and exc.code in _REFUSED


def _progress(label: str, state: _State, checks: int, elapsed: float) -> str:
    counts = ", ".join(f"{n} row(s) {what}" for n, what in (
        (state.imported, "imported"), (state.failed, "failed"), (state.ignored, "ignored"))
        if n)
    return (f"{label}: {state.status} (status check {checks}, {elapsed:.0f}s)"
            + (f"; {counts}" if counts else ""))


def _outputs(state: _State, checks: int, waited: str) -> dict[str, Any]:
    return {"importStatus": state.status, "rowsImported": state.imported or 0,
            "rowsFailed": state.failed or 0, "rowsIgnored": state.ignored or 0,
            "importSummary": state.summary, "failures": state.failures,
            "statusChecks": checks, "waited": waited}


def _failed(outputs: dict[str, Any]) -> str | None:
    status, checks = outputs.get("importStatus"), outputs.get("statusChecks")
    if outputs.get("waited") == "timeout":
        return (f"the import was still {status} when wait.timeout ran out ({checks} status "
                "check(s)); Marketo may still finish it: raise wait.timeout, or check the "
                "list before using it")
    if outputs.get("waited") == "stopped":
        return (f"the run stopped while the import was {status}; Marketo may still finish it")
    summary = outputs.get("importSummary")
    if status in ("FAILED", "CANCELED"):
        return f"the import {status}" + (f": {summary}" if summary else "")
    failed = int(outputs.get("rowsFailed") or 0)
    if not failed:
        return None
    total = failed + int(outputs.get("rowsImported") or 0) + int(outputs.get("rowsIgnored") or 0)
    listed = outputs.get("failures") or []
    shown = "; ".join(f"{f.get('row')!r}: {f.get('reason')}" for f in listed[:MAX_LISTED])
    more = f"; and {len(listed) - MAX_LISTED} more" if len(listed) > MAX_LISTED else ""
    detail = f": {shown}{more}" if shown else (f" ({summary})" if summary else "")
    return f"{failed} of {total} row(s) failed{detail}"


# -- REST (marketo-rest-reference.md §3.7, §3.8, §8) -----------------------------------------

def _rest_send(params: Params, api: RestApi) -> dict[str, Any]:
    header = header_cells(params.get("importFileHeader")) or []
    rows = [_line(r) for r in params.get("importFileRows") or []]
    program, name = str(params.get("programName")), str(params.get("listName"))
    tokens = [c for c in header if _TOKEN.match(c.strip())]
    if tokens:
        raise RestError(None, f"per-lead token columns ({', '.join(tokens)}) have no REST "
                              "equivalent")
    with rest_shapes.before_write("nothing was imported"):
        list_id = api.list_id(name, program)
        columns = [api.import_field(c) for c in header]
    deadline = api.waiter.clock() + wait_options(params).timeout
    if params.get("clearList") in (True, "true"):
        _clear(api, list_id)
    if params.get("importListMode") == "LISTONLY":
        return _outputs(_list_only(api, list_id, columns, rows), 0, "done")
    return _bulk(api, params, list_id, columns, rows, deadline)


def _clear(api: RestApi, list_id: int) -> None:
    members = [int(r["id"]) for r in api.records(f"/v1/lists/{list_id}/leads.json",
                                                 {"fields": "id"})
               if isinstance(r.get("id"), int)]
    for start in range(0, len(members), MAX_REST_IDS):
        chunk = members[start:start + MAX_REST_IDS]
        api.delete(f"/v1/lists/{list_id}/leads.json", {"input": [{"id": i} for i in chunk]},
                   schema="list-leads")


def _list_only(api: RestApi, list_id: int, columns: list[str], rows: list[str]) -> _State:
    """LISTONLY: each row's lead(s) by email, added to the list; a row whose email matches
    no lead is ignored, one the list call skipped failed."""
    at = columns.index("email") if "email" in columns else None
    if at is None:
        raise RestError(None, "LISTONLY finds each row's lead by email: the header has no "
                              "email column")
    emails = [(cells(r)[at:at + 1] or [""])[0].strip() for r in rows]
    found = api.leads_by_key("EMAIL", [e for e in emails if e])
    ids = list(dict.fromkeys(i for e in emails for i in found.get(e, [])))
    added: dict[int, bool] = {}
    for start in range(0, len(ids), MAX_REST_IDS):
        chunk = ids[start:start + MAX_REST_IDS]
        reply = api.post(f"/v1/lists/{list_id}/leads.json",
                         {"input": [{"id": i} for i in chunk]}, schema="list-leads")
        added.update((int(r["id"]), r.get("status") == "added") for r in reply.get("result") or []
                     if isinstance(r, dict) and isinstance(r.get("id"), int))
    state = _State("COMPLETE", 0, 0, 0)
    for row, email in zip(rows, emails, strict=True):
        leads = found.get(email, []) if email else []
        if not leads:
            state.ignored = (state.ignored or 0) + 1
        elif all(added.get(i) for i in leads):
            state.imported = (state.imported or 0) + 1
        else:
            state.failed = (state.failed or 0) + 1
            state.failures.append({"row": row, "reason": "not added to the list"})
    state.summary = (f"{state.imported} row(s) added to the list, {state.ignored} without a "
                     f"lead, {state.failed} failed")
    return state


def _bulk(api: RestApi, params: Params, list_id: int, columns: list[str], rows: list[str],
          deadline: float) -> dict[str, Any]:
    """One Bulk Import job per file under 10 MB, one after the other (Marketo refuses a
    second import into a list that is importing), each waited for."""
    head = csv_line(columns)
    total = _State("COMPLETE", 0, 0, 0)
    checks, summaries = 0, []
    for chunk in _files(head, rows):
        reply = api.upload("/bulk/v1/leads.json", {"format": "csv", "listId": str(list_id)},
                           chunk, "text/csv")
        batch = _batch_id(reply)

        def check(batch: int = batch) -> _State:
            return _bulk_state(api, batch)

        state, made, waited = _wait(check, params, deadline, api.waiter, _label(params))
        checks += made
        if waited != "done":
            return _outputs(_State(state.status, state.imported, state.failed, state.ignored,
                                   state.summary), checks, waited)
        if state.failed:
            state.failures = _failures(api.file(f"/bulk/v1/leads/batch/{batch}/failures.json"))
        total.imported = (total.imported or 0) + (state.imported or 0)
        total.failed = (total.failed or 0) + (state.failed or 0)
        total.failures += state.failures
        if state.summary:
            summaries.append(state.summary)
        if state.status != "COMPLETE":
            total.status = state.status
            break
    total.summary = "; ".join(summaries) or None
    return _outputs(total, checks, "done")


def _files(head: str, rows: list[str]) -> Iterator[bytes]:
    chunk: list[str] = []
    size = len(head) + 1
    for row in rows:
        if chunk and size + len(row) + 1 > MAX_BULK_BYTES:
            yield ("\n".join([head, *chunk]) + "\n").encode("utf-8")
            chunk, size = [], len(head) + 1
        chunk.append(row)
        size += len(row.encode("utf-8")) + 1
    yield ("\n".join([head, *chunk]) + "\n").encode("utf-8")


def _batch_id(reply: dict[str, Any]) -> int:
    result = reply.get("result")
    job = result[0] if isinstance(result, list) and result else None
    batch = job.get("batchId") if isinstance(job, dict) else None
    if not isinstance(batch, int) or isinstance(batch, bool):
        raise ResponseError("Bulk Import answered no batchId")
    return batch


def _bulk_state(api: RestApi, batch: int) -> _State:
    result = api.get(f"/bulk/v1/leads/batch/{batch}.json").get("result")
    job = result[0] if isinstance(result, list) and result else None
    if not isinstance(job, dict) or str(job.get("status")) not in _BULK_STATUS:
        shown = job.get("status") if isinstance(job, dict) else job
        raise ResponseError(f"Bulk Import status answered {str(shown)[:40]!r}")

    def count(name: str) -> int:
        value = job.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return _State(_BULK_STATUS[str(job["status"])], count("numOfLeadsProcessed"),
                  count("numOfRowsFailed"), 0,
                  str(job["message"]) if job.get("message") is not None else None)


def _failures(text: str) -> list[dict[str, Any]]:
    """Bulk Import's failure file: the rows as sent plus `Import Failure Reason`."""
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        return []
    head = lines[0]
    at = len(head) - 1 if head and head[-1].strip() == "Import Failure Reason" else None
    out = []
    for line in lines[1:]:
        if not line:
            continue
        reason = line[at] if at is not None and at < len(line) else "no reason given"
        out.append({"row": csv_line(list(line[:at] if at is not None else line)),
                    "reason": reason})
    return out


def _rest_calls(params: Params) -> int:
    rows = params.get("importFileRows")
    count = len(rows) if isinstance(rows, list) else 1
    clear = 2 if params.get("clearList") in (True, "true") else 0
    if params.get("importListMode") == "LISTONLY":
        return clear + 2 * max(1, -(-count // MAX_REST_IDS))
    return clear + 2  # the upload and its first status check


def _rest_once(params: Params) -> frozenset[str]:
    return frozenset({rest_shapes.DESCRIBE,
                      f"list:{params.get('programName')}/{params.get('listName')}"})


def _rest_unsupported(params: Params, settings: RestSettings) -> Iterator[Finding]:
    header = header_cells(params.get("importFileHeader")) or []
    tokens = [c for c in header if _TOKEN.match(c.strip())]
    if tokens:
        yield (("importFileHeader",), f"per-lead token column(s) {', '.join(tokens)} have no "
               "REST equivalent (Bulk Import sets lead fields only)",
               "pass the tokens to the campaign with scheduleCampaign's programTokenList")


def _rest_notes(params: Params) -> list[str]:
    notes = []
    if params.get("importListMode") == "LISTONLY":
        notes.append("over REST: LISTONLY is Get Leads by email, then Add to List, "
                     f"{MAX_REST_IDS} leads a call (REST's bulk import always upserts)")
    else:
        notes.append("over REST: Bulk Import Leads with listId (REST's one call that upserts "
                     "leads and adds them to a list, as importToList did), its status polled "
                     "every wait.interval: +1 REST call per further check; no result per "
                     "row (nor had SOAP's import): counts, and the failed rows from the "
                     "failure file")
    if params.get("clearList") in (True, "true"):
        notes.append("clearList over REST: the list's members read, then Remove from List, "
                     f"{MAX_REST_IDS} a call, before the import")
    if params.get("campaignName"):
        notes.append("campaignName only names the campaign of per-lead tokens: not sent over "
                     "REST")
    return notes


REST = RestEncoding(send=_rest_send, calls=_rest_calls, unsupported=_rest_unsupported,
                    once=_rest_once, notes=_rest_notes)

OPERATION = Operation(
    name="importToList",
    doc="import CSV rows of leads into a static list and wait for the import",
    outputs={
        "importStatus": Output("str", "COMPLETE, FAILED or CANCELED (PROCESSING when the wait "
                                      "ended first)", "COMPLETE"),
        "rowsImported": Output("int", "rows imported", 0),
        "rowsFailed": Output("int", "rows that failed", 0),
        "rowsIgnored": Output("int", "rows Marketo ignored (LISTONLY: no such lead)", 0),
        "importSummary": Output("str?", "Marketo's summary of the import", None),
        "failures": Output("list", "the failed rows, {row, reason}: over REST, from the bulk "
                                   "import's failure file (SOAP reports counts only)", [],
                           {"row": "ada@example.com,Ada", "reason": "reason"}),
        "statusChecks": Output("int", "status checks made while waiting", 1),
        "waited": Output("str", "done, timeout (wait.timeout ran out) or stopped (the run "
                                "was stopped)", "done"),
    },
    summary=_summary,
    soap=SoapEncoding(encode=_encode, read=_read, follow=_follow),
    defaults={"importListMode": "UPSERTLEADS", "clearList": False},
    batching=Batching("importFileRows", MAX_IMPORT_ROWS, later=(("clearList", False),)),
    outputs_after_loop=True,
    rules=_rules,
    failed_records=_failed,
    rest=REST,
)
