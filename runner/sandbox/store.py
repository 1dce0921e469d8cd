"""The sandbox's persistent state in SQLite: leads, campaign runs, cloned programs, static
lists' members, imports, and every SOAP and REST request.

One connection shared by the server's threads behind a re-entrant lock: sqlite3 objects
must not be used by two threads at once, and SQLite has one writer at a time anyway. Each
request is one transaction (`transaction()`) holding the operation's writes and its log row;
a fault rolls the writes back and the log row is written in a transaction of its own, the
lock held across both (`exclusive()`) so no other request comes between. (A savepoint would
do the same, but SQLite then journals every page the operation touches a second time.) WAL
mode lets another process (the CLI, a test) read while the server writes; synchronous=NORMAL
(db.py) makes a commit cheap: a power loss may lose the last commits, never corrupt; the
server's checkpoints run in a thread of their own (`checkpoint_in_background`). Time
comes from `clock`, so tests can fake it.
"""

from __future__ import annotations

import json
import sqlite3
import string
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.sandbox.db import Checkpointer, connect
from runner.sandbox.fixture import SeedLead
from runner.sandbox.views import StoreViews, lead_from_row


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Lead:
    """A lead row; `attributes` maps field name to value (Email lives in `email` only)."""

    id: int
    email: str | None
    foreign_sys_person_id: str | None
    foreign_sys_type: str | None
    cookie: str | None
    partition: str
    attributes: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""


@dataclass(frozen=True)
class CampaignRun:
    kind: str  # "request" | "schedule"
    campaign_id: int
    program_name: str
    campaign_name: str
    source: str | None = None
    lead_ids: tuple[int, ...] = ()
    tokens: dict[str, str] = field(default_factory=dict)  # as sent
    effective_tokens: dict[str, str] = field(default_factory=dict)  # what the run used
    run_at: str | None = None
    clone_to_program_name: str | None = None
    ignored_keys: tuple[tuple[str, str], ...] = ()  # past the 100th, never looked at
    unresolved_keys: tuple[tuple[str, str], ...] = ()  # looked at, matched no lead


@dataclass(frozen=True)
class ImportJob:
    """An import into a static list (SOAP importToList) or a bulk import (REST). Its rows
    were applied when it was accepted; `checks_left` status reads still see it processing."""

    id: int
    api: str  # "soap" | "rest"
    list_id: int | None
    mode: str  # UPSERTLEADS | LISTONLY
    status: str  # the outcome the status reads turn to: COMPLETE | FAILED
    checks_left: int
    rows: int = 0
    imported: int = 0
    failed: int = 0
    ignored: int = 0
    summary: str | None = None
    failures: str = ""  # the failure file (REST): the rows as sent + Import Failure Reason
    campaign_name: str | None = None
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)  # lead id -> token values
    started_at: str = ""
    ended_at: str | None = None

    @property
    def processing(self) -> bool:
        return self.checks_left > 0


@dataclass(frozen=True)
class RequestLog:
    operation: str | None
    fault_code: int | None = None
    detail: str | None = None
    n: int | None = None  # the request's number since the server started (fault injection)
    user_id: str | None = None
    injected: str | None = None  # the injected fault kind, if any
    applied: bool = False  # processed and answered with success (its writes committed)
    counted: bool = False  # counted toward the rate window and the daily quota
    api: str = "soap"  # "soap" or "rest"
    version: str | None = None  # the SOAP endpoint's API version ("2_2", "3_1")
    # Elements the request carried that were not applied, as production ignored them
    # (paths like "paramsSyncLead/leadRecord/foreignSysPersonId"; lenient.py).
    ignored: tuple[str, ...] = ()


class Store(StoreViews):
    """The lead database. Safe to share between threads; `close()` when done."""

    def __init__(self, db_path: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.db_path = db_path
        self.clock = clock
        self._lock = threading.RLock()
        self._db = connect(db_path)
        self._checkpointer: Checkpointer | None = None

    def checkpoint_in_background(self) -> None:
        """The server's store: WAL checkpoints in a thread, off the requests' path (db.py)."""
        with self._lock:
            if self._checkpointer is None:
                self._checkpointer = Checkpointer(self.db_path, self._lock)
                self._checkpointer.start(self._db)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()  # first: it may be waiting for the lock
            self._checkpointer = None
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now_iso(self) -> str:
        """The clock as stored: `…T12:34:56.789+00:00`, isoformat's milliseconds in UTC."""
        now = self.clock()
        if now.tzinfo is not UTC:  # the server's clock is UTC already; a test's may not be
            now = now.astimezone(UTC)
        # isoformat, with its seconds formatted once a second: a 300-lead call reads the
        # clock for every lead.
        second = (now.year, now.month, now.day, now.hour, now.minute, now.second)
        prefix = _SECONDS.get(second)
        if prefix is None:
            if len(_SECONDS) > 64:
                _SECONDS.clear()
            prefix = _SECONDS[second] = now.replace(microsecond=0, tzinfo=None).isoformat()
        return f"{prefix}.{now.microsecond // 1000:03d}+00:00"

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the store's lock across several transactions: no other request's writes
        come between them (a faulted request's undo and its log row)."""
        with self._lock:
            yield

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock and one write transaction; inside one already, a savepoint."""
        with self._lock:
            nested = self._db.in_transaction
            self._db.execute("SAVEPOINT nested" if nested else "BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if nested:
                    self._db.execute("ROLLBACK TO nested")
                    self._db.execute("RELEASE nested")
                else:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("RELEASE nested" if nested else "COMMIT")

    def rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def write(self, sql: str, *args: Any) -> int:
        with self._lock:
            return int(self._db.execute(sql, args).lastrowid or 0)

    # -- leads ---------------------------------------------------------------------------

    def get(self, lead_id: int) -> Lead | None:
        return next(iter(self._leads("WHERE id = ?", lead_id)), None)

    def by_foreign_id(self, foreign_type: str | None, foreign_id: str) -> Lead | None:
        return next(iter(self._leads(
            "WHERE foreign_sys_person_id = ? AND foreign_sys_type IS ?", foreign_id,
            foreign_type)), None)

    def by_cookie(self, cookie: str) -> Lead | None:
        return next(iter(self._leads("WHERE cookie = ?", cookie)), None)

    def by_email(self, email: str) -> list[Lead]:
        """Every lead with this email (case-insensitive), oldest first: Email is not unique."""
        with self._lock:  # _leads, inline: every record of a big sync looks its email up
            found = self._db.execute(_BY_EMAIL, (email,)).fetchall()
        return [lead_from_row(r) for r in found] if found else []

    def by_field(self, name: str, value: str) -> list[Lead]:
        """Every lead whose attribute `name` equals `value` (case-insensitive), oldest first."""
        path = '$."' + name.replace('"', '""') + '"'
        return self._leads("WHERE json_extract(attributes, ?) = ? COLLATE NOCASE ORDER BY id",
                           path, value)

    def by_partition(self, partition: str) -> list[Lead]:
        return self._leads("WHERE partition = ? ORDER BY id", partition)

    def _leads(self, where: str, *args: Any) -> list[Lead]:
        return [lead_from_row(r) for r in self.rows(f"SELECT * FROM leads {where}", *args)]

    # The same lookups when only the ids are wanted (a campaign's 100 lead keys): no row to
    # build, no attributes to parse.

    def has_lead(self, lead_id: int) -> bool:
        return bool(self.rows("SELECT 1 FROM leads WHERE id = ?", lead_id))

    def ids_by_email(self, email: str) -> list[int]:
        """`by_email`'s leads' ids, in its order."""
        return self._ids("WHERE email = ? ORDER BY id", email)

    def id_by_cookie(self, cookie: str) -> int | None:
        return next(iter(self._ids("WHERE cookie = ?", cookie)), None)

    def ids_by_field(self, name: str, value: str) -> list[int]:
        """`by_field`'s leads' ids, in its order."""
        path = '$."' + name.replace('"', '""') + '"'
        return self._ids("WHERE json_extract(attributes, ?) = ? COLLATE NOCASE ORDER BY id",
                         path, value)

    def _ids(self, where: str, *args: Any) -> list[int]:
        return [int(r[0]) for r in self.rows(f"SELECT id FROM leads {where}", *args)]

    def insert(self, lead: Lead) -> Lead:
        """Store a new lead; its `id` is ignored and the stored lead is returned."""
        stamp = self.now_iso()
        new_id = self.write(
            "INSERT INTO leads (email, foreign_sys_person_id, foreign_sys_type, cookie,"
            " partition, attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            lead.email, lead.foreign_sys_person_id, lead.foreign_sys_type, lead.cookie,
            lead.partition, _json_object(lead.attributes), stamp, stamp)
        # Lead(...), not asdict() (a deep copy of the attributes) nor replace() (a field
        # walk): this runs for every record of a big call.
        return Lead(new_id, lead.email, lead.foreign_sys_person_id, lead.foreign_sys_type,
                    lead.cookie, lead.partition, lead.attributes, stamp, stamp)

    def insert_many(self, leads: list[Lead]) -> list[Lead]:
        """`insert` of each lead, in order, one clock reading each: as INSERTs of up to 100
        rows, which cost half as much as one INSERT a row (AUTOINCREMENT's bookkeeping runs
        once a statement). The rows of one INSERT get consecutive ids, ending at its
        lastrowid: SQLite numbers them one after the other past the largest id ever used,
        and nothing else writes while the transaction is ours."""
        stamps = [self.now_iso() for _ in leads]
        stored: list[Lead] = []
        with self._lock:
            for start in range(0, len(leads), _ROWS_PER_INSERT):
                chunk = leads[start:start + _ROWS_PER_INSERT]
                values: list[Any] = []
                for lead, stamp in zip(chunk, stamps[start:], strict=False):
                    values += (lead.email, lead.foreign_sys_person_id, lead.foreign_sys_type,
                               lead.cookie, lead.partition, _json_object(lead.attributes),
                               stamp, stamp)
                cursor = self._db.execute(
                    "INSERT INTO leads (email, foreign_sys_person_id, foreign_sys_type, cookie,"
                    " partition, attributes, created_at, updated_at) VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)), values)
                first = int(cursor.lastrowid or 0) - len(chunk) + 1
                stored += (Lead(first + k, lead.email, lead.foreign_sys_person_id,
                                lead.foreign_sys_type, lead.cookie, lead.partition,
                                lead.attributes, stamp, stamp)
                           for k, (lead, stamp) in enumerate(
                               zip(chunk, stamps[start:], strict=False)))
        return stored

    def emails_unused(self, emails: list[str]) -> bool:
        """True when no two of `emails` are equal and no lead has one of them, both as the
        email column compares (NOCASE: ASCII letters in any case)."""
        if len({_nocase(e) for e in emails}) != len(emails):
            return False
        for start in range(0, len(emails), _ROWS_PER_INSERT * 8):
            chunk = emails[start:start + _ROWS_PER_INSERT * 8]
            if self.rows(f"SELECT 1 FROM leads WHERE email IN ({', '.join('?' * len(chunk))})"
                         " LIMIT 1", *chunk):
                return False
        return True

    def update(self, lead: Lead) -> None:
        self.write(
            "UPDATE leads SET email = ?, foreign_sys_person_id = ?, foreign_sys_type = ?,"
            " cookie = ?, partition = ?, attributes = ?, updated_at = ? WHERE id = ?",
            lead.email, lead.foreign_sys_person_id, lead.foreign_sys_type, lead.cookie,
            lead.partition, _json_object(lead.attributes), self.now_iso(), lead.id)

    def release_foreign_id(self, foreign_type: str | None, foreign_id: str, keep: int) -> None:
        """Take a foreign id off any other lead: it is unique, and can only be reassigned."""
        self.write("UPDATE leads SET foreign_sys_person_id = NULL, foreign_sys_type = NULL"
                   " WHERE foreign_sys_person_id = ? AND foreign_sys_type IS ? AND id != ?",
                   foreign_id, foreign_type, keep)

    def release_cookie(self, cookie: str, keep: int) -> None:
        self.write("UPDATE leads SET cookie = NULL WHERE cookie = ? AND id != ?", cookie, keep)

    def seed(self, leads: Iterable[SeedLead]) -> None:
        """Insert the fixture's seed leads, once per database (and again after `reset`)."""
        with self.transaction():
            if self.rows("SELECT 1 FROM meta WHERE key = 'seeded'"):
                return
            for s in leads:
                self.insert(Lead(0, s.email, s.foreign_id, s.foreign_type, s.cookie,
                                 s.partition, dict(s.attributes)))
            self.write("INSERT INTO meta (key, value) VALUES ('seeded', ?)", self.now_iso())

    # -- campaign runs and requests ------------------------------------------------------

    def add_run(self, run: CampaignRun) -> int:
        return self.write(
            "INSERT INTO campaign_runs (kind, campaign_id, program_name, campaign_name, source,"
            " lead_ids, tokens, effective_tokens, requested_at, run_at, clone_to_program_name,"
            " ignored_keys, ignored_key_list, unresolved_keys)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run.kind, run.campaign_id, run.program_name, run.campaign_name, run.source,
            json.dumps(list(run.lead_ids)), json.dumps(run.tokens),
            json.dumps(run.effective_tokens), self.now_iso(), run.run_at,
            run.clone_to_program_name, len(run.ignored_keys),
            json.dumps([list(k) for k in run.ignored_keys]),
            json.dumps([list(k) for k in run.unresolved_keys]))

    def clones_since(self, iso: str) -> int:
        """scheduleCampaign calls with cloneToProgramName that succeeded since `iso`."""
        return int(self.rows("SELECT count(*) FROM campaign_runs WHERE kind = 'schedule'"
                             " AND clone_to_program_name IS NOT NULL AND requested_at >= ?",
                             iso)[0][0])

    def schedule_runs(self, campaign_id: int) -> int:
        return int(self.rows("SELECT count(*) FROM campaign_runs WHERE kind = 'schedule'"
                             " AND campaign_id = ?", campaign_id)[0][0])

    def program_created(self, name: str) -> str | None:
        """When a program came to be, as `…Z`: a clone's creation, else the database's seeding
        (the fixture's programs exist from the start)."""
        rows = (self.rows("SELECT created_at FROM programs WHERE name = ?", name)
                or self.rows("SELECT value FROM meta WHERE key = 'seeded'"))
        if not rows:
            return None
        return datetime.fromisoformat(rows[0][0]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def record_request(self, log: RequestLog) -> None:
        self.write("INSERT INTO requests (time, operation, fault_code, detail, n, user_id,"
                   " injected, applied, counted, api, version, ignored)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   self.now_iso(), log.operation, log.fault_code, log.detail, log.n,
                   log.user_id, log.injected, int(log.applied), int(log.counted), log.api,
                   log.version, json.dumps(list(log.ignored)) if log.ignored else "[]")

    def counted_since(self, iso: str, api: str = "soap") -> int:
        """Calls of one API counted toward its daily quota since `iso`."""
        return int(self.rows("SELECT count(*) FROM requests WHERE counted AND api = ?"
                             " AND time >= ?", api, iso)[0][0])

    def counted_by_user(self, iso: str, api: str) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self.rows(
            "SELECT coalesce(user_id, ''), count(*) FROM requests WHERE counted AND api = ?"
            " AND time >= ? GROUP BY user_id ORDER BY user_id", api, iso)}

    # -- static lists and imports ---------------------------------------------------------

    def is_member(self, list_id: int, lead_id: int) -> bool:
        return bool(self.rows("SELECT 1 FROM list_members WHERE list_id = ? AND lead_id = ?",
                              list_id, lead_id))

    def add_member(self, list_id: int, lead_id: int) -> None:
        """Idempotent: a member added again stays a member, added when it first was."""
        self.write("INSERT OR IGNORE INTO list_members (list_id, lead_id, added_at)"
                   " VALUES (?, ?, ?)", list_id, lead_id, self.now_iso())

    def remove_member(self, list_id: int, lead_id: int) -> bool:
        """True when the lead was a member."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM list_members WHERE list_id = ?"
                                      " AND lead_id = ?", (list_id, lead_id))
            return cursor.rowcount > 0

    def clear_list(self, list_id: int) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM list_members WHERE list_id = ?",
                                    (list_id,)).rowcount

    def member_ids(self, list_id: int) -> list[int]:
        """The list's members, by lead id (leads deleted since are left out)."""
        return [int(r[0]) for r in self.rows(
            "SELECT m.lead_id FROM list_members m JOIN leads l ON l.id = m.lead_id"
            " WHERE m.list_id = ? ORDER BY m.lead_id", list_id)]

    def add_import(self, job: ImportJob) -> ImportJob:
        stamp = self.now_iso()
        new_id = self.write(
            "INSERT INTO imports (api, list_id, mode, status, checks_left, rows, imported,"
            " failed, ignored, summary, failures, campaign_name, tokens, started_at, ended_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            job.api, job.list_id, job.mode, job.status, job.checks_left, job.rows,
            job.imported, job.failed, job.ignored, job.summary, job.failures,
            job.campaign_name, json.dumps(job.tokens), stamp,
            None if job.processing else stamp)
        return replace(job, id=new_id, started_at=stamp,
                       ended_at=None if job.processing else stamp)

    def import_job(self, job_id: int, api: str) -> ImportJob | None:
        rows = self.rows("SELECT * FROM imports WHERE id = ? AND api = ?", job_id, api)
        return _job(rows[0]) if rows else None

    def latest_import(self, list_id: int, api: str) -> ImportJob | None:
        rows = self.rows("SELECT * FROM imports WHERE list_id = ? AND api = ?"
                         " ORDER BY id DESC LIMIT 1", list_id, api)
        return _job(rows[0]) if rows else None

    def busy_imports(self, api: str, list_id: int | None = None) -> int:
        """Imports still processing (of one list, when given)."""
        if list_id is None:
            return int(self.rows("SELECT count(*) FROM imports WHERE api = ?"
                                 " AND checks_left > 0", api)[0][0])
        return int(self.rows("SELECT count(*) FROM imports WHERE api = ? AND list_id = ?"
                             " AND checks_left > 0", api, list_id)[0][0])

    def check_import(self, job: ImportJob) -> ImportJob:
        """One status read of `job`, as the reader sees it: each of its `checks_left` reads
        still sees it processing (the last one ends it), the reads after that its outcome."""
        if job.processing:
            left = job.checks_left - 1
            self.write("UPDATE imports SET checks_left = ?, ended_at = ? WHERE id = ?",
                       left, None if left else self.now_iso(), job.id)
        return job

    def reset(self) -> None:
        """Forget every lead, run, clone, list member, import and request; ids start again
        from 1. The fixture's seed leads come back the next time a sandbox opens the
        database."""
        with self.transaction():
            for table in ("leads", "campaign_runs", "requests", "campaigns", "programs", "meta",
                          "list_members", "imports"):
                self._db.execute(f"DELETE FROM {table}")
            self._db.execute("DELETE FROM sqlite_sequence")


_BY_EMAIL = "SELECT * FROM leads WHERE email = ? ORDER BY id"
_SECONDS: dict[tuple[int, ...], str] = {}  # now_iso's formatted seconds
# 8 parameters a row: 800 stays under the 999 of SQLite builds before 3.32.
_ROWS_PER_INSERT = 100
# SQLite's NOCASE, which the email column compares with: ASCII letters only.
_NOCASE = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _nocase(text: str) -> str:
    # lower() is the same fold on ASCII text (isascii() is a flag check), and much faster.
    return text.lower() if text.isascii() else text.translate(_NOCASE)
_quote = json.encoder.encode_basestring_ascii


def _json_object(values: dict[str, str]) -> str:
    """`json.dumps(values)`, byte for byte, without the encoder json.dumps sets up per call
    (every lead written makes one; its attributes are strings)."""
    try:
        return "{" + ", ".join([_quote(k) + ": " + _quote(v) for k, v in values.items()]) + "}"
    except TypeError:  # a key or value that is not a string: json.dumps's own way
        return json.dumps(values)


def _job(row: sqlite3.Row) -> ImportJob:
    values = dict(row)
    values["tokens"] = json.loads(values["tokens"])
    return ImportJob(**values)
