"""importToList: import CSV rows of leads into a static list (mktows-reference.md §3.8).

The list is the program's static list `listName` (20111 when the program has none by that
name). The header names the lead fields by their display names (any case; a SOAP name is
taken too) and `{{my.token}}` columns set per-lead tokens, which need `campaignName`, a
batch campaign of the program (20113 otherwise). UPSERTLEADS finds each row's lead by
email (the oldest, as syncLead's dedup does) and updates it, or creates one, then adds it
to the list; LISTONLY adds the leads that have the row's email and ignores a row whose
email no lead has. An empty cell leaves its field alone. `clearList` empties the list
first. A header the import cannot read (an unknown column, a token column without a
campaign) makes the whole import FAILED with nothing imported; a bad row fails alone.

The reply is `importStatus` PROCESSING; the outcome is read with getImportToListStatus
(imports.py: the rows are applied now, the status reads see it processing for
`import_status_checks` reads).
"""

from __future__ import annotations

from runner.sandbox import imports, replies
from runner.sandbox.faults import Fault
from runner.sandbox.ops.base import Call
from runner.sandbox.ops.upsert import Options
from runner.sandbox.params import boolean, children, required, text

MODES = ("UPSERTLEADS", "LISTONLY")


def import_to_list(call: Call) -> str:
    program_name = required(call.params, "programName").text or ""
    list_name = required(call.params, "listName").text or ""
    header = imports.parse_line(required(call.params, "importFileHeader").text or "")
    lines = [e.text or "" for e in children(required(call.params, "importFileRows"),
                                            "stringItem")]
    mode = (required(call.params, "importListMode").text or "").strip()
    if mode not in MODES:  # lenient mode only; strict mode's schema check comes first
        raise Fault(20110, f"Bad Parameter: importListMode must be UPSERTLEADS or LISTONLY,"
                           f" not {mode!r}")
    clear = boolean(call.params, "clearList")
    if clear is None:
        raise Fault(20109, "clearList is required")
    static = call.fixture.static_list(list_name, program_name)
    if static is None:
        raise Fault(20111, f"List Not Found: no static list {list_name!r} in program"
                           f" {program_name!r}")
    campaign = (text(call.params, "campaignName") or "").strip() or None
    if campaign is not None:
        found = call.catalog.campaign_named(program_name, campaign)
        if found is None or found.type != "batch":
            raise Fault(20113, f"Campaign Not Found: no batch campaign {campaign!r} in"
                               f" program {program_name!r}")
    checks = call.config.import_status_checks
    if clear:
        call.store.clear_list(static.id)
    try:
        columns = imports.soap_columns(call.fixture, header, campaign)
    except imports.HeaderError as bad:
        job = imports.job(call.store, "soap", static.id, mode, imports.Outcome(header),
                          checks, str(bad), status="FAILED", campaign=campaign)
        call.notes.append(f"import {job.id} into {static.name!r} FAILED: {bad}")
        return replies.result(replies.el("importStatus", "PROCESSING"))
    options = Options(dedup=True, workspaces_enabled=call.config.workspaces_enabled)
    outcome = imports.soap_rows(call.store, call.fixture, static.id, mode, header, columns,
                                lines, options)
    job = imports.job(call.store, "soap", static.id, mode, outcome, checks,
                      imports.summary(outcome), campaign=campaign)
    call.notes.append(f"import {job.id} into {static.name!r}: {imports.summary(outcome)}")
    return replies.result(replies.el("importStatus", "PROCESSING"))
