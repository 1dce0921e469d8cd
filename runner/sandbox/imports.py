"""Imports into static lists: SOAP's importToList and the REST twin's Bulk Import share the
job record (store.ImportJob), the list membership and the "still processing" status reads.

The rows are applied when the import is accepted, in its request's transaction; a row that
fails does so before its first write (it leaves no trace and does not stop the others). The
import's status then reads as processing for `import_status_checks` status reads
(config.py; 0 by default: done by the first read), so a client's wait can be tested without
timing anything. Marketo imported in the background; docs/sandbox.md lists the difference.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from runner.sandbox.faults import Fault
from runner.sandbox.fixture import Field, Fixture
from runner.sandbox.ops.upsert import LeadInput, Options, upsert
from runner.sandbox.store import ImportJob, Store

FAILURE_REASON = "Import Failure Reason"  # the failure file's extra column (REST §3.8)
TOKEN_PREFIX = "{{my."


def csv_line(cells: list[str], delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(cells)
    return out.getvalue()


def parse_line(line: str, delimiter: str = ",") -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


@dataclass
class Outcome:
    """What the rows came to, for the job record."""

    header: list[str]
    rows: int = 0
    imported: int = 0
    failed: int = 0
    ignored: int = 0
    failures: list[tuple[list[str], str]] = field(default_factory=list)
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    lead_ids: list[int] = field(default_factory=list)

    def fail(self, cells: list[str], reason: str) -> None:
        self.failed += 1
        self.failures.append((cells, reason))

    def failure_file(self, delimiter: str = ",") -> str:
        lines = [csv_line([*self.header, FAILURE_REASON], delimiter)]
        lines += [csv_line([*cells, reason], delimiter) for cells, reason in self.failures]
        return "\n".join(lines) + "\n"


def job(store: Store, api: str, list_id: int | None, mode: str, outcome: Outcome,
        checks: int, summary: str, *, status: str = "COMPLETE",
        campaign: str | None = None, delimiter: str = ",") -> ImportJob:
    return store.add_import(ImportJob(
        0, api, list_id, mode, status, checks, outcome.rows, outcome.imported, outcome.failed,
        outcome.ignored, summary, outcome.failure_file(delimiter), campaign, outcome.tokens))


# -- SOAP importToList: the header names fields by their display names ------------------------

class HeaderError(Exception):
    """A header the import cannot use: the whole import FAILED, nothing imported."""


def soap_columns(fixture: Fixture, header: list[str], campaign: str | None
                 ) -> list[Field | str]:
    """Each column's field (by display name, any case, or SOAP name) or token name."""
    if not any(c.strip() for c in header):
        raise HeaderError("the import file header names no column")
    by_label = {f.label.casefold(): f for f in fixture.fields if f.soap and f.label}
    out: list[Field | str] = []
    for column in header:
        name = column.strip()
        if name.startswith(TOKEN_PREFIX):
            if not campaign:
                raise HeaderError(f"the token column {name} needs campaignName")
            out.append(name)
            continue
        found = by_label.get(name.casefold()) or fixture.field(name)
        if found is None:
            raise HeaderError(f"unknown column {column!r}: not a lead field's display name")
        out.append(found)
    if len({c.name if isinstance(c, Field) else c for c in out}) != len(out):
        raise HeaderError("a field is named by two columns")
    return out


def soap_rows(store: Store, fixture: Fixture, list_id: int, mode: str, header: list[str],
              columns: list[Field | str], lines: list[str], options: Options) -> Outcome:
    outcome = Outcome(header, rows=len(lines))
    for line in lines:
        cells = parse_line(line)
        if len(cells) != len(columns):
            outcome.fail(cells, f"{len(cells)} value(s) for {len(columns)} column(s)")
            continue
        values = {c.name: v.strip() for c, v in zip(columns, cells, strict=True)
                  if isinstance(c, Field) and v.strip()}
        tokens = {c: v for c, v in zip(columns, cells, strict=True) if isinstance(c, str)}
        email = values.pop("Email", None)
        if not email:
            outcome.fail(cells, "no Email Address")
            continue
        if mode == "LISTONLY":
            leads = [lead.id for lead in store.by_email(email)]
            if not leads:
                outcome.ignored += 1
                continue
        else:
            try:
                # No savepoint: upsert raises every Fault before its first write, so a
                # failed row leaves no trace.
                lead, _ = upsert(store, fixture, LeadInput(None, email, None, None, values),
                                 options)
            except Fault as fault:
                outcome.fail(cells, fault.message)
                continue
            leads = [lead.id]
        for lead_id in leads:
            store.add_member(list_id, lead_id)
            if tokens:
                outcome.tokens[str(lead_id)] = tokens
        outcome.imported += 1
        outcome.lead_ids += leads
    return outcome


def summary(outcome: Outcome) -> str:
    return (f"{outcome.imported} row(s) imported, {outcome.failed} failed, "
            f"{outcome.ignored} ignored")


# -- REST Bulk Import: a header of REST names, rows synced as Sync Leads createOrUpdate -------

def rest_rows(header: list[str], rows: list[list[str]],
              sync: Callable[[dict[str, str]], dict[str, object]],
              add: Callable[[int], None] | None) -> Outcome:
    """Each row synced by `sync` (Sync Leads' one-record logic) and, when it made a lead,
    added to the list (`add`); a skipped row goes to the failure file with its reason."""
    outcome = Outcome(header, rows=len(rows))
    for cells in rows:
        if len(cells) != len(header):
            outcome.fail(cells, f"{len(cells)} value(s) for {len(header)} column(s)")
            continue
        record = {name: value for name, value in zip(header, cells, strict=True) if value != ""}
        result = sync(record)
        lead_id = result.get("id")
        if not isinstance(lead_id, int):
            reasons = result.get("reasons")
            first = reasons[0] if isinstance(reasons, list) and reasons else {}
            reason = first.get("message") if isinstance(first, dict) else None
            outcome.fail(cells, str(reason or "not imported"))
            continue
        if add is not None:
            add(lead_id)
        outcome.imported += 1
        outcome.lead_ids.append(lead_id)
    return outcome


def bulk_message(outcome: Outcome, with_list: bool) -> str:
    """Marketo's completion message (reference §3.8's sample)."""
    members = f" ({outcome.imported} members)" if with_list else ""
    if outcome.failed:
        return (f"Import completed with errors, {outcome.imported} records imported{members},"
                f" {outcome.failed} failed")
    return f"Import succeeded, {outcome.imported} records imported{members}"
