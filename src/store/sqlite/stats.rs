//! Read-only views of the job queue on SQLite: when work is next due, and counts for metrics.
//!
//! Invariant: jobs of paused or deleted grants are left out of [`next_due_at`]. They cannot be
//! claimed, so counting them would make a worker wake for a due time that yields nothing, over
//! and over; resuming the grant signals the wake-ups instead.

use jiff::Timestamp;
use sqlx::sqlite::SqlitePool;

use super::db_error;
use crate::store::codec::{self, get, millis};
use crate::store::{JobStats, StoreError};

/// The earliest time any claimable job becomes due: its `next_attempt_at` when unleased, its
/// lease expiry when leased.
pub(super) async fn next_due_at(read: &SqlitePool) -> Result<Option<Timestamp>, StoreError> {
    let due: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(CASE WHEN j.leased_until IS NULL THEN j.next_attempt_at
                         ELSE j.leased_until END)
         FROM jobs j
         WHERE NOT EXISTS (SELECT 1 FROM grants g
                           WHERE g.grant_id = j.grant_id AND g.status <> 'active')",
    )
    .fetch_one(read)
    .await
    .map_err(db_error)?;
    codec::opt_timestamp(due)
}

/// Job counts at `now`: a job whose lease expired counts as not leased.
pub(super) async fn job_stats(read: &SqlitePool, now: Timestamp) -> Result<JobStats, StoreError> {
    let row = sqlx::query(
        "SELECT
           COALESCE(SUM(leased_until > ?1), 0) AS in_flight,
           COALESCE(SUM((leased_until IS NULL OR leased_until <= ?1)
                        AND attempts = 0 AND last_error IS NULL), 0) AS pending,
           COALESCE(SUM((leased_until IS NULL OR leased_until <= ?1)
                        AND (attempts > 0 OR last_error IS NOT NULL)), 0) AS retrying,
           MIN(CASE WHEN leased_until IS NULL OR leased_until <= ?1 THEN enqueued_at END)
             AS oldest_pending,
           (SELECT COUNT(*) FROM dead_letters) AS dead
         FROM jobs",
    )
    .bind(millis(now))
    .fetch_one(read)
    .await
    .map_err(db_error)?;
    let count = |column: &str| -> Result<u64, StoreError> {
        let value: i64 = get(&row, column)?;
        u64::try_from(value)
            .map_err(|_| StoreError::Corrupt(format!("job count `{column}` is negative: {value}")))
    };
    Ok(JobStats {
        pending: count("pending")?,
        in_flight: count("in_flight")?,
        retrying: count("retrying")?,
        dead: count("dead")?,
        oldest_pending: codec::opt_timestamp(get(&row, "oldest_pending")?)?,
    })
}
