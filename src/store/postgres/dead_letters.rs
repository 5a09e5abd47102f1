//! Dead letters on PostgreSQL: jobs that failed for good, kept with their full request until an
//! operator retries them (`calsync dlq retry` may run on any machine while replicas serve).
//!
//! Invariants: burying a job moves it (insert the dead letter, delete the job) inside the
//! caller's transaction, so a job is never both queued and dead. Retrying locks the selected
//! letters, re-enqueues them through the same coalescing path as any other request (source
//! `DeadLetterRetry`) and deletes them in the same transaction, so two operators retrying at
//! once requeue each letter once; a dead letter whose grant was deleted stays where it is, since
//! it can never run.

use std::collections::HashSet;

use jiff::Timestamp;
use sqlx::postgres::{PgConnection, PgPool};

use super::enqueue::{self, Fence};
use super::{begin, commit, db_error, grants};
use crate::store::codec::{self, millis};
use crate::store::{
    DeadLetter, DeadLetterSelection, JobRequest, JobSource, QueuePolicy, StoreError,
};

/// The start of every dead-letter query (a macro so `concat!` can build `'static` SQL).
macro_rules! select_dead_letters {
    () => {
        "SELECT id, record_key, grant_id, calendar_id, action, payload, origin, version,
                force_fetch, source, notification_id, attempts, last_error, enqueued_at, dead_at
         FROM dead_letters"
    };
}

/// Moves the job of `record_key` to the dead letters, counting the failure that killed it as an
/// attempt; returns the dead letter's id.
pub(super) async fn bury(
    conn: &mut PgConnection,
    record_key: &str,
    error: &str,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO dead_letters (record_key, grant_id, calendar_id, action, payload, origin,
             version, force_fetch, source, notification_id, attempts, last_error, enqueued_at,
             dead_at)
         SELECT record_key, grant_id, calendar_id, action, payload, origin, version, force_fetch,
             source, notification_id, attempts + 1, $2, enqueued_at, $3
         FROM jobs WHERE record_key = $1
         RETURNING id",
    )
    .bind(record_key)
    .bind(error)
    .bind(millis(now))
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    sqlx::query("DELETE FROM jobs WHERE record_key = $1")
        .bind(record_key)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(id)
}

/// Dead letters, oldest first, up to `limit`.
pub(super) async fn list(pool: &PgPool, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
    let rows = sqlx::query(concat!(select_dead_letters!(), " ORDER BY id LIMIT $1"))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
    rows.iter().map(codec::dead_letter_from_row).collect()
}

/// Requeues the selected dead letters in one transaction. Returns how many were requeued (and
/// removed), and whether any job was created or changed.
pub(super) async fn retry(
    pool: &PgPool,
    selection: &DeadLetterSelection,
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<(u64, bool), StoreError> {
    let mut tx = begin(pool).await?;
    enqueue::fence(&mut tx, Fence::Enqueue).await?;
    let letters = select_for_retry(&mut tx, selection).await?;
    let grant_ids: Vec<&str> = letters
        .iter()
        .map(|letter| letter.request.grant_id.as_str())
        .collect();
    let deleted: HashSet<String> = grants::deleted_among(&mut tx, &grant_ids)
        .await?
        .into_iter()
        .collect();
    let (runnable, requests): (Vec<i64>, Vec<JobRequest>) = letters
        .into_iter()
        .filter(|letter| !deleted.contains(&letter.request.grant_id))
        .map(|letter| {
            let mut request = letter.request;
            request.source = JobSource::DeadLetterRetry;
            (letter.id, request)
        })
        .unzip();
    let refs: Vec<&JobRequest> = requests.iter().collect();
    let changed = enqueue::enqueue_all(&mut tx, &refs, now, policy)
        .await?
        .contains(&true);
    let removed = sqlx::query("DELETE FROM dead_letters WHERE id = ANY($1::int8[])")
        .bind(&runnable)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    if changed {
        enqueue::notify(&mut tx).await?;
    }
    commit(tx).await?;
    Ok((removed, changed))
}

/// The selected dead letters, oldest first, locked until the transaction ends.
async fn select_for_retry(
    conn: &mut PgConnection,
    selection: &DeadLetterSelection,
) -> Result<Vec<DeadLetter>, StoreError> {
    let query = match selection {
        DeadLetterSelection::All => {
            sqlx::query(concat!(select_dead_letters!(), " ORDER BY id FOR UPDATE"))
        }
        DeadLetterSelection::Ids(ids) => sqlx::query(concat!(
            select_dead_letters!(),
            " WHERE id = ANY($1::int8[]) ORDER BY id FOR UPDATE"
        ))
        .bind(ids),
    };
    let rows = query.fetch_all(&mut *conn).await.map_err(db_error)?;
    rows.iter().map(codec::dead_letter_from_row).collect()
}
