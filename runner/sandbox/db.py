"""The sandbox's SQLite schema, and the upgrade of a database written by an older sandbox.

`PRAGMA user_version` holds the schema version. An older database (version 1: the first
sandbox; 2: before the REST twin; 3: before the request log named API versions and
ignored elements; 4: before static lists and imports) is upgraded in place on open, so a
user's `.mktows/sandbox.db` keeps its leads.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from contextlib import AbstractContextManager
from pathlib import Path

SCHEMA_VERSION = 5

_LEADS = """
CREATE TABLE IF NOT EXISTS leads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT COLLATE NOCASE,
    foreign_sys_person_id TEXT,
    foreign_sys_type TEXT,
    cookie TEXT UNIQUE,
    partition TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    -- a foreign id is unique per foreign system (reference §3.2, "about foreignSysPersonId")
    UNIQUE (foreign_sys_type, foreign_sys_person_id)
);
CREATE INDEX IF NOT EXISTS leads_email ON leads (email);
"""

_SCHEMA = _LEADS + """
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
    ignored_keys INTEGER NOT NULL DEFAULT 0,
    effective_tokens TEXT NOT NULL DEFAULT '{}',
    ignored_key_list TEXT NOT NULL DEFAULT '[]',
    unresolved_keys TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    operation TEXT,
    fault_code INTEGER,
    detail TEXT,
    n INTEGER,
    user_id TEXT,
    injected TEXT,
    applied INTEGER NOT NULL DEFAULT 0,
    counted INTEGER NOT NULL DEFAULT 0,
    api TEXT NOT NULL DEFAULT 'soap',  -- 'soap' or 'rest': each API has its own daily quota
    version TEXT,  -- the SOAP endpoint's API version, e.g. '2_2'
    ignored TEXT NOT NULL DEFAULT '[]'  -- JSON: the elements production would have dropped
);
CREATE INDEX IF NOT EXISTS requests_time ON requests (time);
CREATE TABLE IF NOT EXISTS programs (
    name TEXT PRIMARY KEY,
    cloned_from TEXT NOT NULL,
    workspace TEXT NOT NULL,
    tokens TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY,
    program_name TEXT NOT NULL REFERENCES programs (name),
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    sources TEXT NOT NULL DEFAULT '[]',
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
""" + """
-- static lists' members (the lists themselves are the fixture's, by id)
CREATE TABLE IF NOT EXISTS list_members (
    list_id INTEGER NOT NULL,
    lead_id INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (list_id, lead_id)
);
-- importToList (SOAP) and Bulk Import (REST) jobs: the rows are applied when the import is
-- accepted; status reads answer "processing" while checks_left > 0, then `status`
CREATE TABLE IF NOT EXISTS imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    api TEXT NOT NULL,
    list_id INTEGER,
    mode TEXT NOT NULL,
    status TEXT NOT NULL,
    checks_left INTEGER NOT NULL DEFAULT 0,
    rows INTEGER NOT NULL DEFAULT 0,
    imported INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    ignored INTEGER NOT NULL DEFAULT 0,
    summary TEXT,
    failures TEXT NOT NULL DEFAULT '',
    campaign_name TEXT,
    tokens TEXT NOT NULL DEFAULT '{}',
    started_at TEXT NOT NULL,
    ended_at TEXT
);
"""

# Version 1 -> 2: leads.workspace becomes leads.partition and the foreign id is unique per
# foreign system type (a table rebuild: SQLite cannot drop a UNIQUE constraint); the other
# tables gain columns.
_FROM_V1 = """
ALTER TABLE leads RENAME TO leads_v1;
DROP INDEX IF EXISTS leads_email;
""" + _LEADS + """
INSERT INTO leads (id, email, foreign_sys_person_id, foreign_sys_type, cookie, partition,
                   attributes, created_at, updated_at)
    SELECT id, email, foreign_sys_person_id, foreign_sys_type, cookie, workspace, attributes,
           created_at, updated_at FROM leads_v1;
DROP TABLE leads_v1;
ALTER TABLE campaign_runs ADD COLUMN effective_tokens TEXT NOT NULL DEFAULT '{}';
ALTER TABLE campaign_runs ADD COLUMN ignored_key_list TEXT NOT NULL DEFAULT '[]';
ALTER TABLE campaign_runs ADD COLUMN unresolved_keys TEXT NOT NULL DEFAULT '[]';
ALTER TABLE requests ADD COLUMN n INTEGER;
ALTER TABLE requests ADD COLUMN user_id TEXT;
ALTER TABLE requests ADD COLUMN injected TEXT;
ALTER TABLE requests ADD COLUMN applied INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN counted INTEGER NOT NULL DEFAULT 0;
UPDATE requests SET applied = (fault_code IS NULL), counted = 1;
"""
# Version 2 -> 3: the REST twin logs its requests in the same table.
_FROM_V2 = """
ALTER TABLE requests ADD COLUMN api TEXT NOT NULL DEFAULT 'soap';
"""

# Version 3 -> 4: the SOAP request log names the endpoint's version and what was ignored.
_FROM_V3 = """
ALTER TABLE requests ADD COLUMN version TEXT;
ALTER TABLE requests ADD COLUMN ignored TEXT NOT NULL DEFAULT '[]';
"""
# Version 4 -> 5: static lists' members and imports, new tables only (_SCHEMA creates them).


class SchemaError(Exception):
    """The database was written by a newer sandbox."""


def connect(db_path: Path) -> sqlite3.Connection:
    """Open (creating or upgrading) the database. Autocommit: callers BEGIN explicitly."""
    db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, timeout=10.0)
    db.row_factory = sqlite3.Row
    # WAL: readers (the CLI, tests) never block the server. synchronous=NORMAL keeps each
    # request's one commit cheap; a sandbox may lose its last commits on power loss only.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        has_tables = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'leads'"
                                ).fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaError(f"schema version {version} is newer than this sandbox's"
                              f" ({SCHEMA_VERSION})")
        if has_tables and version <= 1:
            for statement in _statements(_FROM_V1):
                db.execute(statement)
        if has_tables and version <= 2:
            for statement in _statements(_FROM_V2):
                db.execute(statement)
        if has_tables and version <= 3:
            for statement in _statements(_FROM_V3):
                db.execute(statement)
        for statement in _statements(_SCHEMA):
            db.execute(statement)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        db.close()
        raise
    return db


class Checkpointer:
    """Copies the WAL into the database from a thread of its own, so that no request waits
    for a checkpoint and its two fsyncs (SQLite's automatic one runs inside the COMMIT that
    crosses 1000 pages, with the store's lock held: a quarter of a small request's time).
    Durability is SQLite's WAL + synchronous=NORMAL either way: the WAL is synced before
    each checkpoint, the database after; a power loss may lose the last commits, never
    corrupt. The writer's connection turns its automatic checkpoints off (`start`).

    A passive checkpoint never waits for the writer, but one that started before the
    writer's last commit leaves frames behind, and SQLite starts the WAL over only after a
    complete one: past `limit` frames the checkpoint runs with the writer held off
    (`hold_writer`), so the WAL stays bounded under constant load."""

    def __init__(self, db_path: Path, hold_writer: AbstractContextManager[object],
                 interval: float = 0.2, limit: int = 4000) -> None:
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None,
                                   timeout=10.0)
        self._db.execute("PRAGMA synchronous=NORMAL")  # the writer's: it governs the syncs
        self._hold_writer = hold_writer
        self._interval = interval
        self._limit = limit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mktows-sandbox-checkpoint",
                                        daemon=True)

    def start(self, writer: sqlite3.Connection) -> None:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close its connection (the writer's close then checkpoints
        what is left, as the last connection to a WAL database does)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._db.close()

    def checkpoint(self) -> None:
        try:
            _, frames, copied = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames > self._limit and copied < frames:
                with self._hold_writer:
                    self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # a busy or closing database: the next round retries
            print(f"mktows sandbox: WAL checkpoint failed: {exc}", file=sys.stderr)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.checkpoint()


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT the surrounding transaction; one statement at a time
    # keeps the whole upgrade atomic. No statement here contains a ';' in a literal.
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
