-- Recurring series (issue 9): a series master is a rule, never a CRM record; its occurrences
-- are. These tables remember, per grant, which occurrences calsync has seen of each series, so
-- that occurrences a complete listing no longer returns (an EXDATE, a shortened rule) and every
-- occurrence of a deleted series can be removed like deleted events.

-- One row per (grant, series master). `expanded_through` is the end (Unix seconds) of the
-- window of the last complete listing of its occurrences (NULL: never listed completely);
-- `deleted_at` (Unix milliseconds) is set when the master itself was deleted. Neither says
-- anything about the master's own CRM record, which lives in sync_state like any record.
CREATE TABLE series (
    grant_id         TEXT   NOT NULL,
    master_event_id  TEXT   NOT NULL,
    calendar_id      TEXT,
    expanded_through BIGINT,
    expanded_at      BIGINT,
    deleted_at       BIGINT,
    PRIMARY KEY (grant_id, master_event_id)
);

-- The occurrences seen of each series, with their start (Unix seconds; NULL when unknown).
CREATE TABLE series_occurrences (
    grant_id        TEXT   NOT NULL,
    master_event_id TEXT   NOT NULL,
    event_id        TEXT   NOT NULL,
    starts_at       BIGINT,
    PRIMARY KEY (grant_id, master_event_id, event_id)
);
