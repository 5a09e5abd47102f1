//! Dead letters on SQLite: jobs that failed for good, kept with their full request until an
//! operator retries them.
//!
//! Invariants: burying a job moves it (insert the dead letter, delete the job) inside the
//! caller's transaction, so a job is never both queued and dead. Retrying re-enqueues through
//! the same coalescing path as any other request (source `DeadLetterRetry`) and deletes the dead
//! letter in the same transaction; a dead letter whose grant was deleted stays where it is, since
//! it can never run.

use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use super::enqueue::{self, Enqueued};
use super::{begin_write, commit, db_error};
use crate::store::codec::{self, millis};
use crate::store::{DeadLetter, DeadLetterSelection, JobSource, QueuePolicy, StoreError};

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
    conn: &mut SqliteConnection,
    record_key: &str,
    error: &str,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO dead_letters (record_key, grant_id, calendar_id, action, payload, origin,
             version, force_fetch, source, notification_id, attempts, last_error, enqueued_at,
             dead_at)
         SELECT record_key, grant_id, calendar_id, action, payload, origin, version, force_fetch,
             source, notification_id, attempts + 1, ?2, enqueued_at, ?3
         FROM jobs WHERE record_key = ?1
         RETURNING id",
    )
    .bind(record_key)
    .bind(error)
    .bind(millis(now))
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    sqlx::query("DELETE FROM jobs WHERE record_key = ?1")
        .bind(record_key)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(id)
}

/// Dead letters, oldest first, up to `limit`.
pub(super) async fn list(read: &SqlitePool, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
    let rows = sqlx::query(concat!(select_dead_letters!(), " ORDER BY id LIMIT ?1"))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(read)
        .await
        .map_err(db_error)?;
    rows.iter().map(codec::dead_letter_from_row).collect()
}

/// Requeues the selected dead letters in one transaction. Returns how many were requeued (and
/// removed), and whether any job was created or changed.
pub(super) async fn retry(
    write: &SqlitePool,
    selection: &DeadLetterSelection,
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<(u64, bool), StoreError> {
    let mut tx = begin_write(write).await?;
    let letters = select(&mut tx, selection).await?;
    let (mut requeued, mut changed) = (0, false);
    for letter in letters {
        let mut request = letter.request;
        request.source = JobSource::DeadLetterRetry;
        match enqueue::enqueue_one(&mut tx, &request, now, policy).await? {
            Enqueued::GrantDeleted => continue,
            Enqueued::Applied => changed = true,
            Enqueued::Stale => {}
        }
        sqlx::query("DELETE FROM dead_letters WHERE id = ?1")
            .bind(letter.id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        requeued += 1;
    }
    commit(tx).await?;
    Ok((requeued, changed))
}

async fn select(
    conn: &mut SqliteConnection,
    selection: &DeadLetterSelection,
) -> Result<Vec<DeadLetter>, StoreError> {
    let rows = match selection {
        DeadLetterSelection::All => sqlx::query(concat!(select_dead_letters!(), " ORDER BY id"))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?,
        DeadLetterSelection::Ids(ids) => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            let mut rows = Vec::with_capacity(ids.len());
            for id in ids {
                let row = sqlx::query(concat!(select_dead_letters!(), " WHERE id = ?1"))
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_error)?;
                rows.extend(row);
            }
            rows
        }
    };
    rows.iter().map(codec::dead_letter_from_row).collect()
}
