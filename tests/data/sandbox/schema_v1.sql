-- A database as the first sandbox (schema version 1) left it: one lead, one request.
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
PRAGMA user_version=1;
INSERT INTO leads (email, foreign_sys_person_id, foreign_sys_type, cookie, workspace,
                   attributes, created_at, updated_at)
    VALUES ('old@example.com', NULL, NULL, NULL, 'Default', '{"FirstName": "Old"}',
            '2026-05-01T10:00:00.000+00:00', '2026-05-01T10:00:00.000+00:00');
INSERT INTO requests (time, operation, fault_code, detail)
    VALUES ('2026-05-01T10:00:00.000+00:00', 'syncLead', NULL, NULL);
