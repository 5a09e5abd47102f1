//! Jobs on SQLite: claiming with leases, and the ends of a claim (complete, retry, dead letter,
//! release). Enqueueing (one row per record key, coalescing) is [`super::enqueue`].
//!
//! Invariants:
//! - A claim is one `BEGIN IMMEDIATE` transaction: nobody else can claim between choosing the
//!   rows and leasing them. Each claimed row gets its own uuid v4 token.
//! - The ends of a claim act only while the row still carries the claim's token. A lost lease (the
//!   job was reclaimed by another worker after expiry, or dropped with its grant) changes nothing
//!   and reports [`Completion::Finished`]: the caller is done with the job, whose current holder
//!   (if any) owns it now, so the caller must not run it again.

use std::time::Duration;

use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};

use super::{begin_write, commit, db_error};
use crate::store::codec::{self, get, get_count, millis, millis_after};
use crate::store::{ClaimedJob, Completion, Lease, RetryPlan, StoreError};

const CLAIM_CANDIDATES: &str = "\
SELECT j.record_key FROM jobs j
WHERE j.next_attempt_at <= ?1
  AND (j.leased_until IS NULL OR j.leased_until <= ?1)
  AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = j.grant_id AND g.status <> 'active')
ORDER BY j.next_attempt_at, j.record_key
LIMIT ?2";

const LEASE_KEY: &str = "\
UPDATE jobs SET leased_until = ?2, lease_token = ?3, lease_owner = ?4, burst_started_at = NULL
WHERE record_key = ?1
  AND (leased_until IS NULL OR leased_until <= ?5)
  AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = jobs.grant_id AND g.status <> 'active')
RETURNING record_key, grant_id, calendar_id, action, payload, origin, version, force_fetch,
          source, notification_id, generation, attempts, enqueued_at, last_error, lease_token";

const CLEAR_LEASE: &str = "\
UPDATE jobs SET leased_until = NULL, lease_token = NULL, lease_owner = NULL WHERE record_key = ?1";

/// Claims up to `limit` due jobs, oldest due first.
pub(super) async fn claim(
    write: &SqlitePool,
    owner: &str,
    now: Timestamp,
    lease_for: Duration,
    limit: usize,
) -> Result<Vec<ClaimedJob>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut tx = begin_write(write).await?;
    let keys: Vec<String> = sqlx::query_scalar(CLAIM_CANDIDATES)
        .bind(millis(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
    let mut claimed = Vec::with_capacity(keys.len());
    for key in &keys {
        if let Some(job) = lease_key(&mut tx, key, owner, now, lease_for).await? {
            claimed.push(job);
        }
    }
    commit(tx).await?;
    Ok(claimed)
}

/// Claims the job of one key if it is claimable now, whether due or not.
pub(super) async fn claim_key(
    write: &SqlitePool,
    record_key: &str,
    owner: &str,
    now: Timestamp,
    lease_for: Duration,
) -> Result<Option<ClaimedJob>, StoreError> {
    let mut tx = begin_write(write).await?;
    let claimed = lease_key(&mut tx, record_key, owner, now, lease_for).await?;
    commit(tx).await?;
    Ok(claimed)
}

async fn lease_key(
    conn: &mut SqliteConnection,
    record_key: &str,
    owner: &str,
    now: Timestamp,
    lease_for: Duration,
) -> Result<Option<ClaimedJob>, StoreError> {
    let row = sqlx::query(LEASE_KEY)
        .bind(record_key)
        .bind(millis_after(now, lease_for))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(owner)
        .bind(millis(now))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    row.as_ref().map(claimed_from_row).transpose()
}

fn claimed_from_row(row: &SqliteRow) -> Result<ClaimedJob, StoreError> {
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

async fn held(conn: &mut SqliteConnection, lease: &Lease) -> Result<Held, StoreError> {
    let row = sqlx::query("SELECT generation, lease_token FROM jobs WHERE record_key = ?1")
        .bind(&lease.record_key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
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

async fn clear_lease(conn: &mut SqliteConnection, record_key: &str) -> Result<(), StoreError> {
    sqlx::query(CLEAR_LEASE)
        .bind(record_key)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Removes a finished job, or releases it when it changed in flight.
pub(super) async fn complete(write: &SqlitePool, lease: &Lease) -> Result<Completion, StoreError> {
    let mut tx = begin_write(write).await?;
    let completion = match held(&mut tx, lease).await? {
        Held::Lost => Completion::Finished,
        Held::Changed => {
            clear_lease(&mut tx, &lease.record_key).await?;
            Completion::Requeued
        }
        Held::Current => {
            sqlx::query("DELETE FROM jobs WHERE record_key = ?1")
                .bind(&lease.record_key)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            Completion::Finished
        }
    };
    commit(tx).await?;
    Ok(completion)
}

/// Reschedules a failed job. Returns `Finished` when rescheduled as planned (or the lease was
/// lost), `Requeued` when the job changed in flight and was released to run at once; and whether
/// the schedule changed.
pub(super) async fn retry(
    write: &SqlitePool,
    lease: &Lease,
    plan: &RetryPlan,
    now: Timestamp,
) -> Result<(Completion, bool), StoreError> {
    let mut tx = begin_write(write).await?;
    let outcome = match held(&mut tx, lease).await? {
        Held::Lost => (Completion::Finished, false),
        Held::Changed => {
            clear_lease(&mut tx, &lease.record_key).await?;
            (Completion::Requeued, true)
        }
        Held::Current => {
            sqlx::query(
                "UPDATE jobs SET attempts = attempts + ?2, last_error = ?3, next_attempt_at = ?4,
                     updated_at = ?5, leased_until = NULL, lease_token = NULL, lease_owner = NULL
                 WHERE record_key = ?1",
            )
            .bind(&lease.record_key)
            .bind(i64::from(plan.count_attempt))
            .bind(&plan.error)
            .bind(millis(plan.at))
            .bind(millis(now))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            (Completion::Finished, true)
        }
    };
    commit(tx).await?;
    Ok(outcome)
}

/// Moves a failed job to the dead letters (its final failure counted as an attempt), or releases
/// it when it changed in flight. Returns the dead letter's id, and whether a job was released.
pub(super) async fn dead_letter(
    write: &SqlitePool,
    lease: &Lease,
    error: &str,
    now: Timestamp,
) -> Result<(Option<i64>, bool), StoreError> {
    let mut tx = begin_write(write).await?;
    let outcome = match held(&mut tx, lease).await? {
        Held::Lost => (None, false),
        Held::Changed => {
            clear_lease(&mut tx, &lease.record_key).await?;
            (None, true)
        }
        Held::Current => {
            let id = super::dead_letters::bury(&mut tx, &lease.record_key, error, now).await?;
            (Some(id), false)
        }
    };
    commit(tx).await?;
    Ok(outcome)
}

/// Releases a held lease; the job is due at once. True when the lease was held.
pub(super) async fn release(
    write: &SqlitePool,
    lease: &Lease,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE jobs SET leased_until = NULL, lease_token = NULL, lease_owner = NULL,
             next_attempt_at = MIN(next_attempt_at, ?3)
         WHERE record_key = ?1 AND lease_token = ?2",
    )
    .bind(&lease.record_key)
    .bind(&lease.token)
    .bind(millis(now))
    .execute(write)
    .await
    .map_err(db_error)?;
    Ok(result.rows_affected() > 0)
}

/// Extends a held lease to `now + lease_for`; false when it was lost.
pub(super) async fn extend_lease(
    write: &SqlitePool,
    lease: &Lease,
    now: Timestamp,
    lease_for: Duration,
) -> Result<bool, StoreError> {
    let result =
        sqlx::query("UPDATE jobs SET leased_until = ?3 WHERE record_key = ?1 AND lease_token = ?2")
            .bind(&lease.record_key)
            .bind(&lease.token)
            .bind(millis_after(now, lease_for))
            .execute(write)
            .await
            .map_err(db_error)?;
    Ok(result.rows_affected() > 0)
}
