//! Jobs on PostgreSQL: enqueueing, claiming with leases across replicas, and the ends of a claim
//! (complete, retry, dead letter, release).
//!
//! Invariants:
//! - A claim is one statement: a `SELECT … FOR UPDATE SKIP LOCKED` of due, unleased jobs feeding
//!   an `UPDATE` that leases them (`leased_until`, `lease_owner`, a fresh random `lease_token`
//!   per row). Replicas claiming at once skip each other's rows instead of waiting, and a row
//!   leased by a transaction that committed meanwhile is re-checked and left out, so each key has
//!   at most one job in flight across every replica. An expired lease makes the job claimable
//!   by anyone, with a new token.
//! - The ends of a claim lock the job's row (`FOR UPDATE`) and act only while it still carries
//!   the claim's token; a lost lease (reclaimed after expiry, or dropped with its grant) changes
//!   nothing and reports [`Completion::Finished`]. When the generation changed while the job was
//!   in flight, the job is released, not removed, so it runs again with the newer content.
//! - Every commit that makes work claimable sends `NOTIFY` in its transaction.

use std::time::Duration;

use jiff::Timestamp;
use sqlx::postgres::{PgConnection, PgPool, PgRow};

use super::enqueue::{self, Fence};
use super::{begin, commit, db_error};
use crate::store::codec::{self, get, get_count, millis, millis_after};
use crate::store::{ClaimedJob, Completion, JobRequest, Lease, QueuePolicy, RetryPlan, StoreError};

/// The columns a claim returns (a macro so `concat!` can build `'static` SQL).
macro_rules! claimed_columns {
    () => {
        "j.record_key, j.grant_id, j.calendar_id, j.action, j.payload, j.origin, j.version,
         j.force_fetch, j.source, j.notification_id, j.generation, j.attempts, j.enqueued_at,
         j.last_error, j.lease_token, j.next_attempt_at"
    };
}

const CLAIM: &str = concat!(
    "WITH due AS (
        SELECT d.record_key FROM jobs d
        WHERE d.next_attempt_at <= $1
          AND (d.leased_until IS NULL OR d.leased_until <= $1)
          AND NOT EXISTS (SELECT 1 FROM grants g
                          WHERE g.grant_id = d.grant_id AND g.status <> 'active')
        ORDER BY d.next_attempt_at, d.record_key
        LIMIT $2
        FOR UPDATE OF d SKIP LOCKED
    ), leased AS (
        UPDATE jobs j SET leased_until = $3, lease_token = gen_random_uuid()::text,
                          lease_owner = $4, burst_started_at = NULL
        FROM due WHERE j.record_key = due.record_key
        RETURNING ",
    claimed_columns!(),
    "
    )
    SELECT * FROM leased ORDER BY next_attempt_at, record_key"
);

const CLAIM_KEY: &str = concat!(
    "UPDATE jobs j SET leased_until = $2, lease_token = gen_random_uuid()::text,
                       lease_owner = $3, burst_started_at = NULL
     WHERE j.record_key = $1
       AND (j.leased_until IS NULL OR j.leased_until <= $4)
       AND NOT EXISTS (SELECT 1 FROM grants g
                       WHERE g.grant_id = j.grant_id AND g.status <> 'active')
     RETURNING ",
    claimed_columns!()
);

const CLEAR_LEASE: &str = "\
UPDATE jobs SET leased_until = NULL, lease_token = NULL, lease_owner = NULL WHERE record_key = $1";

/// Enqueues requests in one transaction; true when any job was created or changed.
pub(super) async fn enqueue(
    pool: &PgPool,
    jobs: &[JobRequest],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<bool, StoreError> {
    if jobs.is_empty() {
        return Ok(false);
    }
    let mut tx = begin(pool).await?;
    enqueue::fence(&mut tx, Fence::Enqueue).await?;
    let requests: Vec<&JobRequest> = jobs.iter().collect();
    let changed = enqueue::enqueue_all(&mut tx, &requests, now, policy)
        .await?
        .contains(&true);
    if changed {
        enqueue::notify(&mut tx).await?;
    }
    commit(tx).await?;
    Ok(changed)
}

/// Claims up to `limit` due jobs, oldest due first.
pub(super) async fn claim(
    pool: &PgPool,
    owner: &str,
    now: Timestamp,
    lease_for: Duration,
    limit: usize,
) -> Result<Vec<ClaimedJob>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(CLAIM)
        .bind(millis(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(millis_after(now, lease_for))
        .bind(owner)
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
    rows.iter().map(claimed_from_row).collect()
}

/// Claims the job of one key if it is claimable now, whether due or not.
pub(super) async fn claim_key(
    pool: &PgPool,
    record_key: &str,
    owner: &str,
    now: Timestamp,
    lease_for: Duration,
) -> Result<Option<ClaimedJob>, StoreError> {
    let row = sqlx::query(CLAIM_KEY)
        .bind(record_key)
        .bind(millis_after(now, lease_for))
        .bind(owner)
        .bind(millis(now))
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    row.as_ref().map(claimed_from_row).transpose()
}

fn claimed_from_row(row: &PgRow) -> Result<ClaimedJob, StoreError> {
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

/// Locks the job's row for the rest of the transaction and says whether the lease holds.
async fn held(conn: &mut PgConnection, lease: &Lease) -> Result<Held, StoreError> {
    let row =
        sqlx::query("SELECT generation, lease_token FROM jobs WHERE record_key = $1 FOR UPDATE")
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

/// Releases a job whose content changed in flight, and announces it.
async fn release_changed(conn: &mut PgConnection, record_key: &str) -> Result<(), StoreError> {
    sqlx::query(CLEAR_LEASE)
        .bind(record_key)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    enqueue::notify(conn).await
}

/// Removes a finished job, or releases it when it changed in flight.
pub(super) async fn complete(pool: &PgPool, lease: &Lease) -> Result<Completion, StoreError> {
    let mut tx = begin(pool).await?;
    let completion = match held(&mut tx, lease).await? {
        Held::Lost => Completion::Finished,
        Held::Changed => {
            release_changed(&mut tx, &lease.record_key).await?;
            Completion::Requeued
        }
        Held::Current => {
            sqlx::query("DELETE FROM jobs WHERE record_key = $1")
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
    pool: &PgPool,
    lease: &Lease,
    plan: &RetryPlan,
    now: Timestamp,
) -> Result<(Completion, bool), StoreError> {
    let mut tx = begin(pool).await?;
    let outcome = match held(&mut tx, lease).await? {
        Held::Lost => (Completion::Finished, false),
        Held::Changed => {
            release_changed(&mut tx, &lease.record_key).await?;
            (Completion::Requeued, true)
        }
        Held::Current => {
            sqlx::query(
                "UPDATE jobs SET attempts = attempts + $2, last_error = $3, next_attempt_at = $4,
                     updated_at = $5, leased_until = NULL, lease_token = NULL, lease_owner = NULL
                 WHERE record_key = $1",
            )
            .bind(&lease.record_key)
            .bind(i64::from(plan.count_attempt))
            .bind(&plan.error)
            .bind(millis(plan.at))
            .bind(millis(now))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            enqueue::notify(&mut tx).await?;
            (Completion::Finished, true)
        }
    };
    commit(tx).await?;
    Ok(outcome)
}

/// Moves a failed job to the dead letters (its final failure counted as an attempt), or releases
/// it when it changed in flight. Returns the dead letter's id, and whether a job was released.
pub(super) async fn dead_letter(
    pool: &PgPool,
    lease: &Lease,
    error: &str,
    now: Timestamp,
) -> Result<(Option<i64>, bool), StoreError> {
    let mut tx = begin(pool).await?;
    let outcome = match held(&mut tx, lease).await? {
        Held::Lost => (None, false),
        Held::Changed => {
            release_changed(&mut tx, &lease.record_key).await?;
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
    pool: &PgPool,
    lease: &Lease,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let mut tx = begin(pool).await?;
    let released = sqlx::query(
        "UPDATE jobs SET leased_until = NULL, lease_token = NULL, lease_owner = NULL,
             next_attempt_at = LEAST(next_attempt_at, $3)
         WHERE record_key = $1 AND lease_token = $2",
    )
    .bind(&lease.record_key)
    .bind(&lease.token)
    .bind(millis(now))
    .execute(&mut *tx)
    .await
    .map_err(db_error)?
    .rows_affected()
        > 0;
    if released {
        enqueue::notify(&mut tx).await?;
    }
    commit(tx).await?;
    Ok(released)
}

/// Extends a held lease to `now + lease_for`; false when it was lost.
pub(super) async fn extend_lease(
    pool: &PgPool,
    lease: &Lease,
    now: Timestamp,
    lease_for: Duration,
) -> Result<bool, StoreError> {
    let result =
        sqlx::query("UPDATE jobs SET leased_until = $3 WHERE record_key = $1 AND lease_token = $2")
            .bind(&lease.record_key)
            .bind(&lease.token)
            .bind(millis_after(now, lease_for))
            .execute(pool)
            .await
            .map_err(db_error)?;
    Ok(result.rows_affected() > 0)
}
