-- calsync's PostgreSQL schema: the same tables and meanings as the SQLite schema, so both
-- backends share their codecs. Timestamps are BIGINT Unix milliseconds (calsync passes the time
-- explicitly and never reads the database's clock); event versions (`version`) are the event's
-- `updated_at` in Unix seconds. Requires PostgreSQL 13 or later (gen_random_uuid).

-- Arrival order of notifications, to order those received in the same millisecond.
CREATE SEQUENCE notifications_seq;

-- Every stored notification, deduplicated by its id; kept for replay until pruned.
CREATE TABLE notifications (
    id          TEXT   NOT NULL PRIMARY KEY,
    seq         BIGINT NOT NULL DEFAULT nextval('notifications_seq'),
    trigger     TEXT   NOT NULL,
    grant_id    TEXT,
    event_id    TEXT,
    received_at BIGINT NOT NULL,
    body        BYTEA  NOT NULL
);
ALTER SEQUENCE notifications_seq OWNED BY notifications.seq;
CREATE INDEX notifications_received_at ON notifications (received_at, seq);
CREATE INDEX notifications_event_id ON notifications (event_id);

-- One row per record key (coalescing); a lease marks the one job in flight per key, across
-- every replica.
CREATE TABLE jobs (
    record_key      TEXT    NOT NULL PRIMARY KEY,
    grant_id        TEXT    NOT NULL,
    calendar_id     TEXT,
    action          TEXT    NOT NULL CHECK (action IN ('upsert', 'delete')),
    payload         TEXT,
    origin          TEXT    NOT NULL,
    version         BIGINT,
    force_fetch     BOOLEAN NOT NULL DEFAULT FALSE,
    source          TEXT    NOT NULL,
    notification_id TEXT,
    generation      BIGINT  NOT NULL DEFAULT 0,
    attempts        BIGINT  NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    enqueued_at     BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    leased_until    BIGINT,
    lease_token     TEXT,
    lease_owner     TEXT,
    last_error      TEXT
);
-- Claiming scans due jobs in due order.
CREATE INDEX jobs_due ON jobs (next_attempt_at, record_key);
-- Deleting a grant drops its jobs.
CREATE INDEX jobs_grant ON jobs (grant_id);

-- What was last written to (or deleted from) each target, per record.
CREATE TABLE sync_state (
    target         TEXT    NOT NULL,
    record_key     TEXT    NOT NULL,
    crm_record_id  TEXT,
    version        BIGINT,
    content_hash   TEXT,
    tombstone      BOOLEAN NOT NULL DEFAULT FALSE,
    create_pending BOOLEAN NOT NULL DEFAULT FALSE,
    grant_id       TEXT,
    calendar_id    TEXT,
    updated_at     BIGINT,
    PRIMARY KEY (target, record_key)
);

-- Jobs that failed for good, with the request that made them, until an operator retries them.
CREATE TABLE dead_letters (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_key      TEXT    NOT NULL,
    grant_id        TEXT    NOT NULL,
    calendar_id     TEXT,
    action          TEXT    NOT NULL CHECK (action IN ('upsert', 'delete')),
    payload         TEXT,
    origin          TEXT    NOT NULL,
    version         BIGINT,
    force_fetch     BOOLEAN NOT NULL DEFAULT FALSE,
    source          TEXT    NOT NULL,
    notification_id TEXT,
    attempts        BIGINT  NOT NULL CHECK (attempts >= 0),
    last_error      TEXT    NOT NULL,
    enqueued_at     BIGINT  NOT NULL,
    dead_at         BIGINT  NOT NULL
);

-- Grants whose status was ever recorded; a grant without a row is active.
CREATE TABLE grants (
    grant_id TEXT   NOT NULL PRIMARY KEY,
    status   TEXT   NOT NULL CHECK (status IN ('active', 'paused', 'deleted')),
    since    BIGINT NOT NULL
);

-- Named cursors (backfill page tokens, reconciliation watermarks).
CREATE TABLE cursors (
    name       TEXT   NOT NULL PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Named leases so one replica runs periodic tasks.
CREATE TABLE locks (
    name         TEXT   NOT NULL PRIMARY KEY,
    owner        TEXT   NOT NULL,
    leased_until BIGINT NOT NULL
);
