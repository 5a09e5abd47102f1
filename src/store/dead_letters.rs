//! Dead letters ([`DeadLetters`]): jobs that failed for good, kept with their full request until
//! an operator retries them (`calsync dlq retry` may run beside the serving processes).
//!
//! Invariants every backend keeps (the conformance suite checks each):
//! - Burying a job moves it (insert the dead letter, delete the job) inside the caller's
//!   transaction, so a job is never both queued and dead; the failure that killed it counts in
//!   the dead letter's `attempts`.
//! - Retrying re-enqueues through the same coalescing path as any other request (source
//!   `DeadLetterRetry`) and deletes the dead letter in the same transaction, so two operators
//!   retrying at once requeue each letter once; a dead letter whose grant was deleted stays where
//!   it is, since it can never run.
//!
//! Implemented once over `portable::Engine`: listing and burying are written once (`exec`);
//! retrying is the engine's hook (SQLite requeues one by one on its single writer, PostgreSQL
//! locks the letters and requeues them in one multi-row statement).

use std::future::Future;

use async_trait::async_trait;
use jiff::Timestamp;

use super::portable::Engine;
use super::{DeadLetter, DeadLetterSelection, StoreError};

/// The dead letters an operator inspects and retries.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Dead letters, oldest first, up to `limit`.
    async fn list_dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError>;

    /// Requeues dead letters as jobs (coalescing with any job of the same key) and removes them.
    /// Returns how many were requeued.
    async fn retry_dead_letters(
        &self,
        selection: &DeadLetterSelection,
        now: Timestamp,
    ) -> Result<u64, StoreError>;
}

/// What a backend supplies for dead letters beyond [`Engine`]: requeueing them.
pub(in crate::store) trait RetryEngine: Engine {
    /// Requeues the selected dead letters in one transaction, unguarded (the shared
    /// implementation guards it and wakes); how many were requeued, and whether any job was
    /// created or changed.
    fn requeue_dead_letters(
        &self,
        selection: &DeadLetterSelection,
        now: Timestamp,
    ) -> impl Future<Output = Result<(u64, bool), StoreError>> + Send;
}

#[async_trait]
impl<E: RetryEngine> DeadLetters for E {
    async fn list_dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        exec::list(self.reads(), limit, E::classify).await
    }

    async fn retry_dead_letters(
        &self,
        selection: &DeadLetterSelection,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let write = self.requeue_dead_letters(selection, now);
        let (requeued, changed) = self.guarded(write).await?;
        self.wake(changed);
        Ok(requeued)
    }
}

/// The start of every dead-letter query (a macro so `concat!` can build `'static` SQL).
macro_rules! select_dead_letters {
    () => {
        "SELECT id, record_key, grant_id, calendar_id, action, payload, origin, version,
                force_fetch, source, notification_id, attempts, last_error, enqueued_at, dead_at
         FROM dead_letters"
    };
}
pub(in crate::store) use select_dead_letters;

/// The statements and their generic execution over either backend.
pub(in crate::store) mod exec {
    use crate::ids::EventId;
    use crate::store::codec::{self, get, millis};
    use crate::store::portable::{Classify, Param, Portable};
    use crate::store::{DeadLetter, StoreError};
    use jiff::Timestamp;

    /// Copies the job of `$1` into the dead letters with error `$2` at `$3` (ms).
    const BURY: &str = "\
INSERT INTO dead_letters (record_key, grant_id, calendar_id, action, payload, origin, version,
                          force_fetch, source, notification_id, attempts, last_error,
                          enqueued_at, dead_at)
SELECT record_key, grant_id, calendar_id, action, payload, origin, version, force_fetch, source,
       notification_id, attempts + 1, $2, enqueued_at, $3
FROM jobs WHERE record_key = $1
RETURNING id";

    /// Removes the job of `$1`.
    const DELETE_JOB: &str = "DELETE FROM jobs WHERE record_key = $1";

    /// The oldest `$1` dead letters.
    const LIST: &str = concat!(select_dead_letters!(), " ORDER BY id LIMIT $1");

    /// Moves the job of `record_key` to the dead letters inside the caller's transaction,
    /// counting the failure that killed it as an attempt; returns the dead letter's id.
    pub async fn bury<DB: Portable>(
        conn: &mut DB::Connection,
        record_key: &EventId,
        error: &str,
        now: Timestamp,
        classify: Classify,
    ) -> Result<i64, StoreError> {
        let values = [Param::from(record_key), error.into(), millis(now).into()];
        let row = DB::fetch_optional(conn, BURY, &values)
            .await
            .and_then(|row| row.ok_or(sqlx::Error::RowNotFound))
            .map_err(classify)?;
        DB::execute(conn, DELETE_JOB, &[record_key.into()])
            .await
            .map_err(classify)?;
        get(&row, "id")
    }

    /// [`super::DeadLetters::list_dead_letters`].
    pub async fn list<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        limit: usize,
        classify: Classify,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = pool.acquire().await.map_err(classify)?;
        let rows = DB::fetch_all(&mut conn, LIST, &[limit.into()])
            .await
            .map_err(classify)?;
        rows.iter().map(codec::dead_letter_from_row).collect()
    }
}
