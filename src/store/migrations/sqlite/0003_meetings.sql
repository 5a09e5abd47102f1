-- Meeting identity (issue 9): one CRM record per meeting, however many connected grants hold a
-- copy of it. Timestamps are INTEGER Unix milliseconds, versions the event's `updated_at` in Unix
-- seconds, as in 0001. Existing rows are untouched: a `sync_state` row keyed by an event id
-- becomes the record of that event's meeting the first time the meeting is bound (below).

-- Every connected grant's copy of a meeting: one row per (grant, event id). Google gives every
-- attendee's copy the same event id, Microsoft one id per mailbox; `meeting_key` (the iCalendar
-- UID, plus the original start for an occurrence, else the event id) groups them.
CREATE TABLE meeting_copies (
    grant_id     TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    meeting_key  TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('live', 'cancelled', 'deleted', 'excluded')),
    -- The copy's `updated_at` (Unix seconds) last recorded.
    version      INTEGER,
    calendar_id  TEXT,
    -- The copy as the CRM record it maps to (JSON), kept when the copy is deleted so that a
    -- meeting whose copies are all gone can still be written as cancelled.
    content      TEXT,
    content_hash TEXT,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (grant_id, event_id)
);
CREATE INDEX meeting_copies_meeting ON meeting_copies (meeting_key);
CREATE INDEX meeting_copies_event ON meeting_copies (event_id);

-- The record key (the `sync_state` key and the CRM's external id) each meeting writes to, bound
-- once by the first copy recorded and never changed.
CREATE TABLE meetings (
    meeting_key TEXT    NOT NULL PRIMARY KEY,
    record_key  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX meetings_record_key ON meetings (record_key);
