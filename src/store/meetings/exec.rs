//! The meeting ledger's statements, written once for both backends (sqlx accepts `$N` on
//! SQLite too). Each backend only chooses its transaction (SQLite's `BEGIN IMMEDIATE` on the
//! single write connection, PostgreSQL's pool) and its error classification.
//!
//! Invariant: recording a copy, binding its meeting and reading the binding back happen on the
//! caller's transaction, so the record key returned is the one committed with the copy.

use jiff::Timestamp;
use sqlx::{ColumnIndex, Decode, Encode, Type};

use super::{BIND_MEETING, MeetingCopy, RECORD_KEY, UPSERT_COPY, copy_from_row, encoded};
use crate::store::StoreError;
use crate::store::codec::millis;

type Classify = fn(sqlx::Error) -> StoreError;

/// Records `copy` and binds its meeting (unless bound) inside `tx`; answers the meeting's
/// record key.
pub async fn record<DB>(
    tx: &mut DB::Connection,
    copy: &MeetingCopy,
    now: Timestamp,
    classify: Classify,
) -> Result<String, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
{
    let (status, content) = encoded(copy);
    sqlx::query::<DB>(UPSERT_COPY)
        .bind(copy.grant_id.as_str())
        .bind(copy.event_id.as_str())
        .bind(copy.meeting_key.as_str())
        .bind(status)
        .bind(copy.version)
        .bind(copy.calendar_id.as_deref())
        .bind(content)
        .bind(copy.content_hash.as_deref())
        .bind(millis(copy.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    sqlx::query::<DB>(BIND_MEETING)
        .bind(copy.meeting_key.as_str())
        .bind(copy.event_id.as_str())
        .bind(millis(now))
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    let row = sqlx::query::<DB>(RECORD_KEY)
        .bind(copy.meeting_key.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(classify)?;
    crate::store::codec::get(&row, "record_key")
}

/// The copies `query` (one of the ledger's `SELECT`s) selects with `values` bound in order.
pub async fn copies<DB>(
    pool: &sqlx::Pool<DB>,
    query: &'static str,
    values: &[&str],
    classify: Classify,
) -> Result<Vec<MeetingCopy>, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
{
    let mut select = sqlx::query::<DB>(query);
    for value in values {
        select = select.bind(*value);
    }
    let rows = select.fetch_all(pool).await.map_err(classify)?;
    rows.iter().map(copy_from_row).collect()
}

/// The record key a meeting is bound to, if any.
pub async fn record_key<DB>(
    pool: &sqlx::Pool<DB>,
    meeting_key: &str,
    classify: Classify,
) -> Result<Option<String>, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
{
    let row = sqlx::query::<DB>(RECORD_KEY)
        .bind(meeting_key)
        .fetch_optional(pool)
        .await
        .map_err(classify)?;
    row.as_ref()
        .map(|row| crate::store::codec::get(row, "record_key"))
        .transpose()
}
