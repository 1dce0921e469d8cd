"""getImportToListStatus: the status of the latest importToList into a list (reference §3.8).

Both parameters are optional in the schema; the sandbox needs `listName` (20109) and takes
`programName` to tell the program (a list name is unique in the sandbox anyway). A list with
no import is 20110. While the import reads as processing (imports.py) the reply has its
start and the number of rows, nil counts and no end; then its outcome (COMPLETE, or FAILED
for an import whose header could not be read), the counts and `importSummary`. Times carry
the server's Central-time offset, as Marketo's did (§8 item 8).
"""

from __future__ import annotations

from datetime import datetime

from runner.sandbox import replies
from runner.sandbox.faults import Fault
from runner.sandbox.limits import CENTRAL
from runner.sandbox.ops.base import Call
from runner.sandbox.params import text


def get_import_to_list_status(call: Call) -> str:
    program = (text(call.params, "programName") or "").strip() or None
    name = text(call.params, "listName") or ""
    if not name.strip():
        raise Fault(20109, "Parameter Required: listName is required")
    static = call.fixture.static_list(name, program)
    if static is None:
        where = f" in program {program!r}" if program else ""
        raise Fault(20111, f"List Not Found: no static list {name!r}{where}")
    job = call.store.latest_import(static.id, "soap")
    if job is None:
        raise Fault(20110, f"Bad Parameter: no import into list {name!r}")
    seen = call.store.check_import(job)
    done = not seen.processing
    call.notes.append(f"import {job.id}: {seen.status if done else 'PROCESSING'}")
    return replies.result(
        replies.el("status", seen.status if done else "PROCESSING"),
        replies.el("startedTime", _central(seen.started_at)),
        replies.el("endedTime", _central(seen.ended_at) if done else None),
        replies.el("estimatedTime", None),
        replies.el("estimatedRows", seen.rows),
        replies.el("rowsImported", seen.imported if done else None),
        replies.el("rowsFailed", seen.failed if done else None),
        replies.el("rowsIgnored", seen.ignored if done else None),
        replies.el("importSummary", seen.summary if done else None),
    )


def _central(iso: str | None) -> str | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso).astimezone(CENTRAL).isoformat(timespec="seconds")
