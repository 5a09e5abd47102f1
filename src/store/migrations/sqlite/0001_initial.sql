-- calsync's SQLite schema. Timestamps are INTEGER Unix milliseconds; booleans are INTEGER 0/1;
-- event versions (`version`) are the event's `updated_at` in Unix seconds.

-- Every stored notification, deduplicated by its id; kept for replay until pruned.
CREATE TABLE notifications (
    id          TEXT    NOT NULL PRIMARY KEY,
    trigger     TEXT    NOT NULL,
    grant_id    TEXT,
    event_id    TEXT,
    received_at INTEGER NOT NULL,
    body        BLOB    NOT NULL
);
CREATE INDEX notifications_received_at ON notifications (received_at);
CREATE INDEX notifications_event_id ON notifications (event_id);

-- One row per record key (coalescing); a lease marks the one job in flight per key.
CREATE TABLE jobs (
    record_key      TEXT    NOT NULL PRIMARY KEY,
    grant_id        TEXT    NOT NULL,
    calendar_id     TEXT,
    action          TEXT    NOT NULL CHECK (action IN ('upsert', 'delete')),
    payload         TEXT,
    origin          TEXT    NOT NULL,
    version         INTEGER,
    force_fetch     INTEGER NOT NULL DEFAULT 0 CHECK (force_fetch IN (0, 1)),
    source          TEXT    NOT NULL,
    notification_id TEXT,
    generation      INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    enqueued_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    leased_until    INTEGER,
    lease_token     TEXT,
    lease_owner     TEXT,
    last_error      TEXT
);
-- Claiming scans due jobs in due order.
CREATE INDEX jobs_claim ON jobs (next_attempt_at, leased_until);
-- Deleting a grant drops its jobs.
CREATE INDEX jobs_grant ON jobs (grant_id);

-- What was last written to (or deleted from) each target, per record.
CREATE TABLE sync_state (
    target         TEXT    NOT NULL,
    record_key     TEXT    NOT NULL,
    crm_record_id  TEXT,
    version        INTEGER,
    content_hash   TEXT,
    tombstone      INTEGER NOT NULL DEFAULT 0 CHECK (tombstone IN (0, 1)),
    create_pending INTEGER NOT NULL DEFAULT 0 CHECK (create_pending IN (0, 1)),
    grant_id       TEXT,
    calendar_id    TEXT,
    updated_at     INTEGER,
    PRIMARY KEY (target, record_key)
);

-- Jobs that failed for good, with the request that made them, until an operator retries them.
CREATE TABLE dead_letters (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    record_key      TEXT    NOT NULL,
    grant_id        TEXT    NOT NULL,
    calendar_id     TEXT,
    action          TEXT    NOT NULL CHECK (action IN ('upsert', 'delete')),
    payload         TEXT,
    origin          TEXT    NOT NULL,
    version         INTEGER,
    force_fetch     INTEGER NOT NULL DEFAULT 0 CHECK (force_fetch IN (0, 1)),
    source          TEXT    NOT NULL,
    notification_id TEXT,
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    last_error      TEXT    NOT NULL,
    enqueued_at     INTEGER NOT NULL,
    dead_at         INTEGER NOT NULL
);

-- Grants whose status was ever recorded; a grant without a row is active.
CREATE TABLE grants (
    grant_id TEXT    NOT NULL PRIMARY KEY,
    status   TEXT    NOT NULL CHECK (status IN ('active', 'paused', 'deleted')),
    since    INTEGER NOT NULL
);

-- Named cursors (backfill page tokens, reconciliation watermarks).
CREATE TABLE cursors (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Named leases so one replica runs periodic tasks.
CREATE TABLE locks (
    name         TEXT    NOT NULL PRIMARY KEY,
    owner        TEXT    NOT NULL,
    leased_until INTEGER NOT NULL
);
