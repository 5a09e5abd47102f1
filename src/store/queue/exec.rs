//! The job queue's statements that both backends share, and their generic execution: the ends of
//! a claim (inside the caller's transaction), lease extension, and the read-only views.
//!
//! Invariants: the ends of a claim act only while the job's row still carries the claim's token
//! ([`held`]); a lost lease changes nothing. Each answers whether work became claimable, so the
//! backend can wake its workers (SQLite) or `NOTIFY` in the same transaction (PostgreSQL). Jobs of
//! paused or deleted grants are left out of [`next_due_at`]: they cannot be claimed, so counting
//! them would make a worker wake for a due time that yields nothing, over and over.

use std::time::Duration;

use jiff::Timestamp;

use crate::ids::EventId;
use crate::store::codec::{self, get, get_count, millis, millis_after};
use crate::store::dead_letters;
use crate::store::portable::{Cells, Classify, Param, Portable};
use crate::store::{ClaimedJob, Completion, JobStats, Lease, RetryPlan, StoreError};

/// The generation and lease token of the job of `$1` (SQLite: the write lock is already held).
pub const HELD: &str = "SELECT generation, lease_token FROM jobs WHERE record_key = $1";

/// The same, locking the row until the transaction ends (PostgreSQL).
pub const HELD_FOR_UPDATE: &str =
    "SELECT generation, lease_token FROM jobs WHERE record_key = $1 FOR UPDATE";

/// Releases the job of `$1` to run at once with its newer content.
const CLEAR_LEASE: &str = "\
UPDATE jobs SET leased_until = NULL, lease_token = NULL, lease_owner = NULL WHERE record_key = $1";

/// Removes the finished job of `$1`.
const DELETE_JOB: &str = "DELETE FROM jobs WHERE record_key = $1";

/// Reschedules the failed job of `$1`: `$2` attempts more, error `$3`, due at `$4`, now `$5`.
const RESCHEDULE: &str = "\
UPDATE jobs SET attempts = attempts + $2, last_error = $3, next_attempt_at = $4, updated_at = $5,
                leased_until = NULL, lease_token = NULL, lease_owner = NULL
WHERE record_key = $1";

/// Releases the lease `$2` of `$1`, due at the latest `$3`.
const RELEASE: &str = "\
UPDATE jobs SET leased_until = NULL, lease_token = NULL, lease_owner = NULL,
                next_attempt_at = CASE WHEN next_attempt_at < $3 THEN next_attempt_at ELSE $3 END
WHERE record_key = $1 AND lease_token = $2";

/// Extends the lease `$2` of `$1` to `$3`.
const EXTEND: &str = "UPDATE jobs SET leased_until = $3 WHERE record_key = $1 AND lease_token = $2";

/// The earliest time a claimable job becomes due: `next_attempt_at` unleased, expiry leased.
///
/// The earlier of the first unleased job (due order, `jobs_claim`/`jobs_due`) and the first lease
/// to expire (`jobs_leased`, migration 0005): each side stops at its first row, so the cost does
/// not grow with the backlog. Same answer as `MIN(COALESCE(leased_until, next_attempt_at))`.
const NEXT_DUE: &str = "\
SELECT MIN(due) AS due FROM (
  SELECT due FROM (
    SELECT j.next_attempt_at AS due FROM jobs j
    WHERE j.leased_until IS NULL
      AND NOT EXISTS (SELECT 1 FROM grants g
                      WHERE g.grant_id = j.grant_id AND g.status <> 'active')
    ORDER BY j.next_attempt_at LIMIT 1) unleased
  UNION ALL
  SELECT due FROM (
    SELECT j.leased_until AS due FROM jobs j
    WHERE j.leased_until IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM grants g
                      WHERE g.grant_id = j.grant_id AND g.status <> 'active')
    ORDER BY j.leased_until LIMIT 1) leased
) due_times";

/// Job counts at `$1`: a job whose lease expired counts as not leased.
const STATS: &str = "\
SELECT
  COUNT(*) FILTER (WHERE leased_until > $1) AS in_flight,
  COUNT(*) FILTER (WHERE (leased_until IS NULL OR leased_until <= $1)
                     AND attempts = 0 AND last_error IS NULL) AS pending,
  COUNT(*) FILTER (WHERE (leased_until IS NULL OR leased_until <= $1)
                     AND (attempts > 0 OR last_error IS NOT NULL)) AS retrying,
  MIN(enqueued_at) FILTER (WHERE leased_until IS NULL OR leased_until <= $1) AS oldest_pending,
  (SELECT COUNT(*) FROM dead_letters) AS dead
FROM jobs";

/// Whether a lease still holds, and whether its job changed since the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// The row is gone or carries another token.
    Lost,
    /// Held, but the content was replaced while in flight.
    Changed,
    /// Held, content as claimed.
    Current,
}

/// Says whether `lease` holds, reading its row with `query` ([`HELD`] or [`HELD_FOR_UPDATE`]).
async fn held<DB: Portable>(
    conn: &mut DB::Connection,
    lease: &Lease,
    query: &'static str,
    classify: Classify,
) -> Result<Held, StoreError> {
    let row = DB::fetch_optional(conn, query, &[(&lease.record_key).into()])
        .await
        .map_err(classify)?;
    let Some(row) = row else {
        return Ok(Held::Lost);
    };
    let token: Option<String> = get(&row, "lease_token")?;
    let generation: i64 = get(&row, "generation")?;
    Ok(if token.as_deref() != Some(lease.token.as_str()) {
        Held::Lost
    } else if generation != lease.generation {
        Held::Changed
    } else {
        Held::Current
    })
}

/// Runs `statement` with the record key `$1` alone.
async fn by_key<DB: Portable>(
    conn: &mut DB::Connection,
    statement: &'static str,
    record_key: &EventId,
    classify: Classify,
) -> Result<(), StoreError> {
    DB::execute(conn, statement, &[record_key.into()])
        .await
        .map_err(classify)?;
    Ok(())
}

/// [`super::JobQueue::complete`] inside the caller's transaction. `Requeued` means work became
/// claimable.
pub async fn complete<DB: Portable>(
    conn: &mut DB::Connection,
    lease: &Lease,
    held_query: &'static str,
    classify: Classify,
) -> Result<Completion, StoreError> {
    let key = &lease.record_key;
    Ok(match held::<DB>(conn, lease, held_query, classify).await? {
        Held::Lost => Completion::Finished,
        Held::Changed => {
            by_key::<DB>(conn, CLEAR_LEASE, key, classify).await?;
            Completion::Requeued
        }
        Held::Current => {
            by_key::<DB>(conn, DELETE_JOB, key, classify).await?;
            Completion::Finished
        }
    })
}

/// [`super::JobQueue::retry`] inside the caller's transaction; also whether the job's schedule
/// changed (work may have become claimable).
pub async fn retry<DB: Portable>(
    conn: &mut DB::Connection,
    lease: &Lease,
    plan: &RetryPlan,
    now: Timestamp,
    held_query: &'static str,
    classify: Classify,
) -> Result<(Completion, bool), StoreError> {
    let key = &lease.record_key;
    Ok(match held::<DB>(conn, lease, held_query, classify).await? {
        Held::Lost => (Completion::Finished, false),
        Held::Changed => {
            by_key::<DB>(conn, CLEAR_LEASE, key, classify).await?;
            (Completion::Requeued, true)
        }
        Held::Current => {
            let values = [
                Param::from(key),
                i64::from(plan.count_attempt).into(),
                plan.error.as_str().into(),
                millis(plan.at).into(),
                millis(now).into(),
            ];
            DB::execute(conn, RESCHEDULE, &values)
                .await
                .map_err(classify)?;
            (Completion::Finished, true)
        }
    })
}

/// [`super::JobQueue::dead_letter`] inside the caller's transaction; also whether the job was
/// released instead (work became claimable).
pub async fn dead_letter<DB: Portable>(
    conn: &mut DB::Connection,
    lease: &Lease,
    error: &str,
    now: Timestamp,
    held_query: &'static str,
    classify: Classify,
) -> Result<(Option<i64>, bool), StoreError> {
    let key = &lease.record_key;
    Ok(match held::<DB>(conn, lease, held_query, classify).await? {
        Held::Lost => (None, false),
        Held::Changed => {
            by_key::<DB>(conn, CLEAR_LEASE, key, classify).await?;
            (None, true)
        }
        Held::Current => {
            let id = dead_letters::exec::bury::<DB>(conn, key, error, now, classify).await?;
            (Some(id), false)
        }
    })
}

/// [`super::JobQueue::release`] on `conn`; true when the lease was held (the job is due now).
pub async fn release<DB: Portable>(
    conn: &mut DB::Connection,
    lease: &Lease,
    now: Timestamp,
    classify: Classify,
) -> Result<bool, StoreError> {
    let values = [
        Param::from(&lease.record_key),
        lease.token.as_str().into(),
        millis(now).into(),
    ];
    let released = DB::execute(conn, RELEASE, &values)
        .await
        .map_err(classify)?;
    Ok(released > 0)
}

/// [`super::JobQueue::extend_lease`].
pub async fn extend_lease<DB: Portable>(
    pool: &sqlx::Pool<DB>,
    lease: &Lease,
    now: Timestamp,
    lease_for: Duration,
    classify: Classify,
) -> Result<bool, StoreError> {
    let values = [
        Param::from(&lease.record_key),
        lease.token.as_str().into(),
        millis_after(now, lease_for).into(),
    ];
    let mut conn = pool.acquire().await.map_err(classify)?;
    let extended = DB::execute(&mut conn, EXTEND, &values)
        .await
        .map_err(classify)?;
    Ok(extended > 0)
}

/// [`super::JobQueue::next_due_at`].
pub async fn next_due_at<DB: Portable>(
    pool: &sqlx::Pool<DB>,
    classify: Classify,
) -> Result<Option<Timestamp>, StoreError> {
    let row = one_row(pool, NEXT_DUE, &[], classify).await?;
    codec::opt_timestamp(get(&row, "due")?)
}

/// [`super::JobQueue::job_stats`].
pub async fn job_stats<DB: Portable>(
    pool: &sqlx::Pool<DB>,
    now: Timestamp,
    classify: Classify,
) -> Result<JobStats, StoreError> {
    let row = one_row(pool, STATS, &[millis(now).into()], classify).await?;
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

/// The one row an aggregate query returns.
async fn one_row<DB: Portable>(
    pool: &sqlx::Pool<DB>,
    sql: &'static str,
    values: &[Param<'_>],
    classify: Classify,
) -> Result<DB::Row, StoreError> {
    let mut conn = pool.acquire().await.map_err(classify)?;
    DB::fetch_optional(&mut conn, sql, values)
        .await
        .and_then(|row| row.ok_or(sqlx::Error::RowNotFound))
        .map_err(classify)
}

/// A claimed job from the row a claim returned (the job's columns, `generation` and
/// `lease_token`).
pub fn claimed_from_row(row: &impl Cells) -> Result<ClaimedJob, StoreError> {
    let request = codec::request_from_row(row)?;
    let lease = Lease {
        record_key: request.record_key.clone(),
        token: get(row, "lease_token")?,
        generation: get(row, "generation")?,
    };
    Ok(ClaimedJob {
        request,
        lease,
        attempts: get_count(row, "attempts")?,
        enqueued_at: codec::timestamp(get(row, "enqueued_at")?)?,
        last_error: get(row, "last_error")?,
    })
}
