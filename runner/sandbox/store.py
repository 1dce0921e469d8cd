"""The sandbox's persistent state in SQLite: leads, campaign runs, and every SOAP request.

One connection shared by the server's threads behind a re-entrant lock: sqlite3 objects
must not be used by two threads at once, and one writer at a time is all a local sandbox
needs. WAL mode lets another process (`open_store` from the CLI or a test) read while the
server writes. Stdlib only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS leads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT COLLATE NOCASE,
    foreign_sys_person_id TEXT UNIQUE,
    foreign_sys_type TEXT,
    cookie TEXT UNIQUE,
    workspace TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS leads_email ON leads (email);
CREATE TABLE IF NOT EXISTS campaign_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('request', 'schedule')),
    campaign_id INTEGER NOT NULL,
    program_name TEXT NOT NULL,
    campaign_name TEXT NOT NULL,
    source TEXT,
    lead_ids TEXT NOT NULL DEFAULT '[]',
    tokens TEXT NOT NULL DEFAULT '{}',
    requested_at TEXT NOT NULL,
    run_at TEXT,
    clone_to_program_name TEXT,
    ignored_keys INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    operation TEXT,
    fault_code INTEGER,
    detail TEXT
);
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Lead:
    """A lead row; `attributes` maps field name to value (Email lives in `email` only)."""

    id: int
    email: str | None
    foreign_sys_person_id: str | None
    foreign_sys_type: str | None
    cookie: str | None
    workspace: str
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
    tokens: dict[str, str] = field(default_factory=dict)
    run_at: str | None = None
    clone_to_program_name: str | None = None
    ignored_keys: int = 0


class Store:
    """The lead database. Safe to share between threads; `close()` when done."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._lock = threading.RLock()
        # isolation_level=None: autocommit, with explicit BEGIN in transaction().
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None,
                                   timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock and one write transaction: a failed operation leaves no trace."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, *args: Any) -> int:
        with self._lock:
            return int(self._db.execute(sql, args).lastrowid or 0)

    # -- leads ---------------------------------------------------------------------------

    def get(self, lead_id: int) -> Lead | None:
        return next(iter(self._leads("WHERE id = ?", lead_id)), None)

    def by_foreign_id(self, foreign_id: str) -> Lead | None:
        return next(iter(self._leads("WHERE foreign_sys_person_id = ?", foreign_id)), None)

    def by_cookie(self, cookie: str) -> Lead | None:
        return next(iter(self._leads("WHERE cookie = ?", cookie)), None)

    def by_email(self, email: str) -> list[Lead]:
        """Every lead with this email (case-insensitive), oldest first: Email is not unique."""
        return self._leads("WHERE email = ? ORDER BY id", email)

    def _leads(self, where: str, *args: Any) -> list[Lead]:
        return [_lead(r) for r in self._rows(f"SELECT * FROM leads {where}", *args)]

    def insert(self, lead: Lead) -> Lead:
        """Store a new lead; its `id` is ignored and the stored lead is returned."""
        stamp = now_iso()
        new_id = self._write(
            "INSERT INTO leads (email, foreign_sys_person_id, foreign_sys_type, cookie,"
            " workspace, attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            lead.email, lead.foreign_sys_person_id, lead.foreign_sys_type, lead.cookie,
            lead.workspace, json.dumps(lead.attributes), stamp, stamp)
        stored = self.get(new_id)
        assert stored is not None  # just inserted, under the lock
        return stored

    def update(self, lead: Lead) -> None:
        self._write(
            "UPDATE leads SET email = ?, foreign_sys_person_id = ?, foreign_sys_type = ?,"
            " cookie = ?, workspace = ?, attributes = ?, updated_at = ? WHERE id = ?",
            lead.email, lead.foreign_sys_person_id, lead.foreign_sys_type, lead.cookie,
            lead.workspace, json.dumps(lead.attributes), now_iso(), lead.id)

    def release_foreign_id(self, foreign_id: str, keep: int) -> None:
        """Take a foreign id off any other lead: it is unique, and can only be reassigned."""
        self._write("UPDATE leads SET foreign_sys_person_id = NULL, foreign_sys_type = NULL"
                    " WHERE foreign_sys_person_id = ? AND id != ?", foreign_id, keep)

    # -- campaign runs and requests ------------------------------------------------------

    def add_run(self, run: CampaignRun) -> int:
        return self._write(
            "INSERT INTO campaign_runs (kind, campaign_id, program_name, campaign_name, source,"
            " lead_ids, tokens, requested_at, run_at, clone_to_program_name, ignored_keys)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run.kind, run.campaign_id, run.program_name, run.campaign_name, run.source,
            json.dumps(list(run.lead_ids)), json.dumps(run.tokens), now_iso(), run.run_at,
            run.clone_to_program_name, run.ignored_keys)

    def record_request(self, operation: str | None, fault_code: int | None,
                       detail: str | None = None) -> None:
        self._write("INSERT INTO requests (time, operation, fault_code, detail)"
                    " VALUES (?, ?, ?, ?)", now_iso(), operation, fault_code, detail)

    # -- inspection (tests and the CLI) --------------------------------------------------

    def leads(self) -> list[dict[str, Any]]:
        return [asdict(lead) for lead in self._leads("ORDER BY id")]

    def lead(self, lead_id: int) -> dict[str, Any] | None:
        found = self.get(lead_id)
        return asdict(found) if found else None

    def campaign_runs(self) -> list[dict[str, Any]]:
        runs = []
        for row in self._rows("SELECT * FROM campaign_runs ORDER BY id"):
            run = dict(row)
            run["lead_ids"] = json.loads(run["lead_ids"])
            run["tokens"] = json.loads(run["tokens"])
            runs.append(run)
        return runs

    def requests(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._rows("SELECT * FROM requests ORDER BY id")]

    def request_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM requests")[0][0])

    def reset(self) -> None:
        """Forget every lead, run and request; ids start again from 1."""
        with self.transaction():
            for table in ("leads", "campaign_runs", "requests"):
                self._db.execute(f"DELETE FROM {table}")
            self._db.execute("DELETE FROM sqlite_sequence")


def _lead(row: sqlite3.Row) -> Lead:
    values = dict(row)
    values["attributes"] = json.loads(values["attributes"])
    return Lead(**values)
