"""Bulk Import Leads (marketo-rest-reference.md §3.8, §9.9): create a job from a CSV, TSV or
SSV file (multipart part `file`, a header of REST field names), read its status, and its
failure and warning files.

Each row is synced as Sync Leads' createOrUpdate on `lookupField` (default email) syncs one
record (a skipped row writes nothing), and added to the `listId` list when one is given; a
row Sync Leads would skip goes to the failure file with the reason as `Import Failure
Reason`. The rows are applied when the job is created; its status reads `Importing` for
`import_status_checks` reads (imports.py), then `Complete`. Response-level errors: 1002
without `format`, 1003 for another format or an empty file, 1006 for a header that is not a
REST field (a choice, reference §9.9), 1013 for an unknown list or job, 1019 when a job for
the same list is still importing, 1016 when 10 jobs are, 613 without a `file` part.
"""

from __future__ import annotations

import csv
import io

from runner.sandbox import imports
from runner.sandbox.rest import sync
from runner.sandbox.rest.call import RestCall, required
from runner.sandbox.rest.envelope import Answer, RestError
from runner.sandbox.rest.request import one
from runner.sandbox.store import ImportJob

DELIMITERS = {"csv": ",", "tsv": "\t", "ssv": ";"}
MAX_JOBS = 10  # queued or importing at once (reference §4.1)
WARNING_REASON = "Import Warning Reason"


def create(call: RestCall) -> Answer:
    params = call.params()
    kind = required(params, "format")
    delimiter = DELIMITERS.get(kind)
    if delimiter is None:
        raise RestError(1003, f"Invalid data: format must be csv, tsv or ssv, not '{kind}'")
    data = call.request.upload()
    list_id = _list_id(call, one(params, "listId"))
    lookup = one(params, "lookupField") or "email"
    partition = sync.partition_named(call, one(params, "partitionName"), "createOrUpdate")
    rows = [r for r in csv.reader(io.StringIO(data.decode("utf-8-sig", "replace")),
                                  delimiter=delimiter) if r]
    if len(rows) < 2:
        raise RestError(1003, "Empty File")  # [RUD]'s comment on a real reply (§3.8)
    header = [c.strip() for c in rows[0]]
    unknown = next((c for c in header if call.fields.get(c) is None), None)
    if unknown is not None:
        raise RestError(1006, f"Field '{unknown}' not found")
    if list_id is not None and call.store.busy_imports("rest", list_id):
        raise RestError(1019)
    if call.store.busy_imports("rest") >= MAX_JOBS:
        raise RestError(1016)

    def add(lead_id: int) -> None:
        if list_id is not None:
            call.store.add_member(list_id, lead_id)

    outcome = imports.rest_rows(
        header, rows[1:],
        lambda record: sync.sync_one(call, record, "createOrUpdate", lookup, partition),
        add if list_id is not None else None)
    job = imports.job(call.store, "rest", list_id, "UPSERTLEADS", outcome,
                      call.config.import_status_checks,
                      imports.bulk_message(outcome, list_id is not None), delimiter=delimiter)
    call.notes.append(f"bulk job {job.id}: {job.summary}")
    return Answer([{"batchId": job.id, "importId": str(job.id), "status": "Queued"}])


def status(call: RestCall) -> Answer:
    job = _job(call)
    seen = call.store.check_import(job)
    out = {"batchId": job.id, "importId": str(job.id)}
    if seen.processing:
        return Answer([{**out, "status": "Importing", "numOfLeadsProcessed": 0,
                        "numOfRowsFailed": 0, "numOfRowsWithWarning": 0}])
    return Answer([{**out, "status": "Complete" if job.status == "COMPLETE" else "Failed",
                    "numOfLeadsProcessed": job.imported, "numOfRowsFailed": job.failed,
                    "numOfRowsWithWarning": 0, "message": job.summary}])


def failures(call: RestCall) -> Answer:
    return Answer(None, file=_job(call).failures.encode("utf-8"))


def warnings(call: RestCall) -> Answer:
    """No row is imported with a warning here: the header and the reason column only."""
    head = _job(call).failures.splitlines()[:1]
    text = head[0].removesuffix(imports.FAILURE_REASON) + WARNING_REASON if head else ""
    return Answer(None, file=(text + "\n").encode("utf-8"))


def _list_id(call: RestCall, value: str | None) -> int | None:
    if value is None or value == "":
        return None
    found = call.fixture.static_list_by_id(int(value)) if value.isdigit() else None
    if found is None:
        raise RestError(1013, f"List '{value}' not found")
    return found.id


def _job(call: RestCall) -> ImportJob:
    job = call.store.import_job(call.path_id(), "rest")
    if job is None:
        raise RestError(1013, f"Import '{call.path_id()}' not found")
    return job
