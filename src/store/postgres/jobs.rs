//! Enqueueing and claiming on PostgreSQL, the engine hooks of the job queue
//! ([`crate::store::JobQueue`], implemented once in [`crate::store::queue`], whose ends of a claim
//! run here in transactions that lock the job's row, `exec::HELD_FOR_UPDATE`, and `NOTIFY`).
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
//!   nothing and reports [`crate::store::Completion::Finished`]. When the generation changed while the job was
//!   in flight, the job is released, not removed, so it runs again with the newer content.
//! - Every commit that makes work claimable sends `NOTIFY` in its transaction.

use std::time::Duration;

use jiff::Timestamp;

use super::enqueue::{self, Fence};
use super::{PostgresStore, begin, commit, db_error};
use crate::ids::EventId;
use crate::store::codec::{millis, millis_after};
use crate::store::queue::{QueueEngine, exec};
use crate::store::{ClaimedJob, JobRequest, StoreError};

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

impl QueueEngine for PostgresStore {
    const HELD: &'static str = exec::HELD_FOR_UPDATE;

    /// Enqueues requests in one transaction under the fence, `NOTIFY`ing when any job was
    /// created or changed; true then.
    async fn enqueue_requests(
        &self,
        jobs: &[JobRequest],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = begin(&self.pool).await?;
        enqueue::fence(&mut tx, Fence::Enqueue).await?;
        let requests: Vec<&JobRequest> = jobs.iter().collect();
        let changed = enqueue::enqueue_all(&mut tx, &requests, now, &self.policy)
            .await?
            .contains(&true);
        if changed {
            enqueue::notify(&mut tx).await?;
        }
        commit(tx).await?;
        Ok(changed)
    }

    /// Claims up to `limit` due jobs in one statement, skipping rows other replicas hold.
    async fn claim_due(
        &self,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let rows = sqlx::query(CLAIM)
            .bind(millis(now))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(millis_after(now, lease_for))
            .bind(owner)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(exec::claimed_from_row).collect()
    }

    /// Claims the job of one key if it is claimable now, whether due or not.
    async fn claim_one(
        &self,
        record_key: &EventId,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let row = sqlx::query(CLAIM_KEY)
            .bind(record_key.as_str())
            .bind(millis_after(now, lease_for))
            .bind(owner)
            .bind(millis(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(exec::claimed_from_row).transpose()
    }
}
