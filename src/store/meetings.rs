//! The meeting ledger: every connected grant's copy of a meeting, and the record key each
//! meeting writes to (issue 9, "meeting identity across grants"). A narrow trait of its own,
//! implemented once for both backends (`exec`, SQL both engines accept): a backend only says
//! how its write transaction begins (SQLite's `BEGIN IMMEDIATE` on the single write connection)
//! and how writes are guarded.
//!
//! Invariants every backend keeps (the conformance suite checks each):
//! - **One row per copy.** A copy is keyed by (grant id, event id); recording it replaces the
//!   whole row. Only the holder of the event id's job lease records its copies, so two writers
//!   never race on one row.
//! - **A meeting's record key is bound once.** The first copy recorded for a meeting key binds
//!   the meeting to that copy's event id (the key an earlier version of calsync used for the
//!   event's `sync_state`, so an upgraded deployment keeps its records); later copies, from any
//!   grant, any replica, at the same moment or not, get that same key back. The binding and the
//!   copy are committed together.
//!   On PostgreSQL, two replicas binding one meeting at once both insert with `ON CONFLICT DO
//!   NOTHING`: the second waits on the first's unique-index entry, inserts nothing, and its next
//!   statement (READ COMMITTED) reads the first's binding.
//! - **Deleted copies keep their content**, so a meeting whose copies are all gone can still be
//!   written as cancelled.

pub(in crate::store) mod exec;

use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::Value;

use super::StoreError;
use super::codec::{get, json_text, timestamp};
use super::portable::{Cells, Engine};
use crate::ids::{EventId, GrantId, MeetingKey};

/// The state of one grant's copy of a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyStatus {
    /// In the grant's calendar and not cancelled.
    Live,
    /// In the grant's calendar with `status: cancelled`.
    Cancelled,
    /// Deleted from the grant's calendar (an `event.deleted`, or the Events API answers 404).
    Deleted,
    /// In the grant's calendar, but left out of the CRM by policy (private under `skip`, a
    /// relevance filter, an unselected calendar): keeps the meeting alive no more than a deleted
    /// copy does, and a meeting left with only such copies is archived, never marked cancelled.
    Excluded,
}

impl CopyStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            CopyStatus::Live => "live",
            CopyStatus::Cancelled => "cancelled",
            CopyStatus::Deleted => "deleted",
            CopyStatus::Excluded => "excluded",
        }
    }

    fn parse(text: &str) -> Result<CopyStatus, StoreError> {
        match text {
            "live" => Ok(CopyStatus::Live),
            "cancelled" => Ok(CopyStatus::Cancelled),
            "deleted" => Ok(CopyStatus::Deleted),
            "excluded" => Ok(CopyStatus::Excluded),
            other => Err(StoreError::Corrupt(format!(
                "unknown copy status {other:?}"
            ))),
        }
    }
}

/// One grant's copy of a meeting.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingCopy {
    /// The grant whose calendar holds this copy.
    pub grant_id: GrantId,
    /// The copy's event id in that grant's calendar.
    pub event_id: EventId,
    /// The meeting the copy belongs to (see `crate::meeting::meeting_key`).
    pub meeting_key: MeetingKey,
    /// Whether the copy is live, deleted or filtered out.
    pub status: CopyStatus,
    /// The copy's `updated_at` (Unix seconds) last recorded.
    pub version: Option<i64>,
    /// The calendar holding the copy, when known.
    pub calendar_id: Option<String>,
    /// The CRM record the copy maps to (JSON), when it was ever read.
    pub content: Option<Value>,
    /// The hash of that record's content.
    pub content_hash: Option<String>,
    /// When the copy was last recorded.
    pub updated_at: Timestamp,
}

/// The copies of meetings and the record key of each meeting. See the module docs.
#[async_trait]
pub trait MeetingLedger: Send + Sync {
    /// Records `copy` (replacing that grant's copy of that event) and returns the record key of
    /// its meeting: the one bound earlier, else `copy.event_id`, which is bound now. One
    /// durable transaction.
    async fn record_copy(&self, copy: &MeetingCopy, now: Timestamp) -> Result<EventId, StoreError>;

    /// One grant's copy of an event.
    async fn copy(
        &self,
        grant_id: &GrantId,
        event_id: &EventId,
    ) -> Result<Option<MeetingCopy>, StoreError>;

    /// Every grant's copy with this event id (Google gives attendees' copies the owner's id).
    async fn copies_of_event(&self, event_id: &EventId) -> Result<Vec<MeetingCopy>, StoreError>;

    /// Every copy of a meeting, by grant and event id.
    async fn copies_of_meeting(
        &self,
        meeting_key: &MeetingKey,
    ) -> Result<Vec<MeetingCopy>, StoreError>;

    /// The record key a meeting is bound to, if any copy of it was ever recorded.
    async fn record_key(&self, meeting_key: &MeetingKey) -> Result<Option<EventId>, StoreError>;
}

#[async_trait]
impl<E: Engine> MeetingLedger for E {
    async fn record_copy(&self, copy: &MeetingCopy, now: Timestamp) -> Result<EventId, StoreError> {
        let write = async {
            let mut tx = self.begin_write().await?;
            let record_key = exec::record::<E::Db>(&mut tx, copy, now, E::classify).await?;
            tx.commit().await.map_err(E::classify)?;
            Ok(record_key)
        };
        self.guarded(write).await
    }

    async fn copy(
        &self,
        grant_id: &GrantId,
        event_id: &EventId,
    ) -> Result<Option<MeetingCopy>, StoreError> {
        let key = [grant_id.into(), event_id.into()];
        let copies = exec::copies(self.reads(), COPY, &key, E::classify).await?;
        Ok(copies.into_iter().next())
    }

    async fn copies_of_event(&self, event_id: &EventId) -> Result<Vec<MeetingCopy>, StoreError> {
        let key = [event_id.into()];
        exec::copies(self.reads(), COPIES_OF_EVENT, &key, E::classify).await
    }

    async fn copies_of_meeting(
        &self,
        meeting_key: &MeetingKey,
    ) -> Result<Vec<MeetingCopy>, StoreError> {
        let key = [meeting_key.into()];
        exec::copies(self.reads(), COPIES_OF_MEETING, &key, E::classify).await
    }

    async fn record_key(&self, meeting_key: &MeetingKey) -> Result<Option<EventId>, StoreError> {
        exec::record_key(self.reads(), meeting_key, E::classify).await
    }
}

/// A copy query with the given `WHERE` condition (one `$1` parameter), by grant and event id.
macro_rules! select_copies {
    ($condition:literal) => {
        concat!(
            "SELECT grant_id, event_id, meeting_key, status, version, calendar_id, content, \
             content_hash, updated_at FROM meeting_copies WHERE ",
            $condition,
            " ORDER BY grant_id, event_id"
        )
    };
}

/// The copies of one event id (`$1`), any grant.
pub(in crate::store) const COPIES_OF_EVENT: &str = select_copies!("event_id = $1");

/// One grant's (`$1`) copy of one event (`$2`).
pub(in crate::store) const COPY: &str = select_copies!("grant_id = $1 AND event_id = $2");

/// The copies of one meeting (`$1`).
pub(in crate::store) const COPIES_OF_MEETING: &str = select_copies!("meeting_key = $1");

/// Records a copy (`$1`..`$9`: the columns in table order).
pub(in crate::store) const UPSERT_COPY: &str = "INSERT INTO meeting_copies (grant_id, event_id, \
     meeting_key, status, version, calendar_id, content, content_hash, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (grant_id, event_id) DO UPDATE SET
         meeting_key = excluded.meeting_key,
         status = excluded.status,
         version = excluded.version,
         calendar_id = excluded.calendar_id,
         content = excluded.content,
         content_hash = excluded.content_hash,
         updated_at = excluded.updated_at";

/// Binds a meeting to a record key unless it is bound already.
pub(in crate::store) const BIND_MEETING: &str =
    "INSERT INTO meetings (meeting_key, record_key, created_at) VALUES ($1, $2, $3)
     ON CONFLICT (meeting_key) DO NOTHING";

/// A meeting's record key.
pub(in crate::store) const RECORD_KEY: &str =
    "SELECT record_key FROM meetings WHERE meeting_key = $1";

/// The copy's stored status and content, for binding.
pub(in crate::store) fn encoded(copy: &MeetingCopy) -> (&'static str, Option<String>) {
    (copy.status.as_str(), json_text(copy.content.as_ref()))
}

/// A `meeting_copies` row, decoded.
pub(in crate::store) fn copy_from_row(row: &impl Cells) -> Result<MeetingCopy, StoreError> {
    let content: Option<String> = get(row, "content")?;
    let content = content
        .map(|text| {
            serde_json::from_str(&text)
                .map_err(|error| StoreError::Corrupt(format!("copy content: {error}")))
        })
        .transpose()?;
    let status: String = get(row, "status")?;
    Ok(MeetingCopy {
        grant_id: get(row, "grant_id")?,
        event_id: get(row, "event_id")?,
        meeting_key: get(row, "meeting_key")?,
        status: CopyStatus::parse(&status)?,
        version: get(row, "version")?,
        calendar_id: get(row, "calendar_id")?,
        content,
        content_hash: get(row, "content_hash")?,
        updated_at: timestamp(get(row, "updated_at")?)?,
    })
}
