//! The meeting ledger's statements, written once for both backends (sqlx accepts `$N` on
//! SQLite too). Each backend only chooses its transaction (SQLite's `BEGIN IMMEDIATE` on the
//! single write connection, PostgreSQL's pool) and its error classification.
//!
//! Invariant: recording a copy, binding its meeting and reading the binding back happen on the
//! caller's transaction, so the record key returned is the one committed with the copy.

use jiff::Timestamp;

use super::{BIND_MEETING, MeetingCopy, RECORD_KEY, UPSERT_COPY, copy_from_row, encoded};
use crate::ids::{EventId, MeetingKey};
use crate::store::StoreError;
use crate::store::codec::{get, millis};
use crate::store::portable::{Classify, Param, Portable};

/// Records `copy` and binds its meeting (unless bound) inside `tx`; answers the meeting's
/// record key.
pub async fn record<DB: Portable>(
    tx: &mut DB::Connection,
    copy: &MeetingCopy,
    now: Timestamp,
    classify: Classify,
) -> Result<EventId, StoreError> {
    let (status, content) = encoded(copy);
    let values = [
        Param::from(&copy.grant_id),
        (&copy.event_id).into(),
        (&copy.meeting_key).into(),
        status.into(),
        copy.version.into(),
        copy.calendar_id.as_deref().into(),
        content.as_deref().into(),
        copy.content_hash.as_deref().into(),
        millis(copy.updated_at).into(),
    ];
    DB::execute(tx, UPSERT_COPY, &values)
        .await
        .map_err(classify)?;
    let binding = [
        Param::from(&copy.meeting_key),
        (&copy.event_id).into(),
        millis(now).into(),
    ];
    DB::execute(tx, BIND_MEETING, &binding)
        .await
        .map_err(classify)?;
    let row = DB::fetch_optional(tx, RECORD_KEY, &[(&copy.meeting_key).into()])
        .await
        .and_then(|row| row.ok_or(sqlx::Error::RowNotFound))
        .map_err(classify)?;
    get(&row, "record_key")
}

/// The copies `query` (one of the ledger's `SELECT`s) selects with `values` bound in order.
pub async fn copies<DB: Portable>(
    pool: &sqlx::Pool<DB>,
    query: &'static str,
    values: &[Param<'_>],
    classify: Classify,
) -> Result<Vec<MeetingCopy>, StoreError> {
    let mut conn = pool.acquire().await.map_err(classify)?;
    let rows = DB::fetch_all(&mut conn, query, values)
        .await
        .map_err(classify)?;
    rows.iter().map(copy_from_row).collect()
}

/// The record key a meeting is bound to, if any.
pub async fn record_key<DB: Portable>(
    pool: &sqlx::Pool<DB>,
    meeting_key: &MeetingKey,
    classify: Classify,
) -> Result<Option<EventId>, StoreError> {
    let mut conn = pool.acquire().await.map_err(classify)?;
    let row = DB::fetch_optional(&mut conn, RECORD_KEY, &[meeting_key.into()])
        .await
        .map_err(classify)?;
    row.as_ref().map(|row| get(row, "record_key")).transpose()
}
