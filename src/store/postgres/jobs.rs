//! The job queue on PostgreSQL ([`JobQueue`]): enqueueing and claiming with leases across
//! replicas here; the ends of a claim, the statistics and the lookups in
//! [`crate::store::queue::exec`], run in transactions that lock the job's row and `NOTIFY`.
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

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::Postgres;
use tokio::sync::Notify;

use super::enqueue::{self, Fence};
use super::{PostgresStore, begin, commit, db_error};
use crate::ids::EventId;
use crate::store::codec::{millis, millis_after};
use crate::store::queue::{JobQueue, exec};
use crate::store::{
    ClaimedJob, Completion, JobRequest, JobStats, Lease, QueueEntry, RetryPlan, StoreError,
};

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

#[async_trait]
impl JobQueue for PostgresStore {
    fn wakeups(&self) -> Arc<Notify> {
        self.wakeups.clone()
    }

    async fn enqueue(&self, jobs: &[JobRequest], now: Timestamp) -> Result<(), StoreError> {
        if jobs.is_empty() {
            return Ok(());
        }
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
        self.wake(changed);
        Ok(())
    }

    async fn claim(
        &self,
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
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(exec::claimed_from_row).collect()
    }

    async fn claim_key(
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

    async fn extend_lease(
        &self,
        lease: &Lease,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<bool, StoreError> {
        exec::extend_lease(&self.pool, lease, now, lease_for, db_error).await
    }

    async fn complete(&self, lease: &Lease, _now: Timestamp) -> Result<Completion, StoreError> {
        let mut tx = begin(&self.pool).await?;
        let completion =
            exec::complete::<Postgres>(&mut tx, lease, exec::HELD_FOR_UPDATE, db_error).await?;
        let requeued = completion == Completion::Requeued;
        self.finish(tx, requeued).await?;
        Ok(completion)
    }

    async fn retry(
        &self,
        lease: &Lease,
        plan: &RetryPlan,
        now: Timestamp,
    ) -> Result<Completion, StoreError> {
        let mut tx = begin(&self.pool).await?;
        let (completion, changed) =
            exec::retry::<Postgres>(&mut tx, lease, plan, now, exec::HELD_FOR_UPDATE, db_error)
                .await?;
        self.finish(tx, changed).await?;
        Ok(completion)
    }

    async fn dead_letter(
        &self,
        lease: &Lease,
        error: &str,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = begin(&self.pool).await?;
        let held = exec::HELD_FOR_UPDATE;
        let (id, released) =
            exec::dead_letter::<Postgres>(&mut tx, lease, error, now, held, db_error).await?;
        self.finish(tx, released).await?;
        Ok(id)
    }

    async fn release(&self, lease: &Lease, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = begin(&self.pool).await?;
        let released = exec::release::<Postgres>(&mut tx, lease, now, db_error).await?;
        self.finish(tx, released).await
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        exec::next_due_at(&self.pool, db_error).await
    }

    async fn job_stats(&self, now: Timestamp) -> Result<JobStats, StoreError> {
        exec::job_stats(&self.pool, now, db_error).await
    }

    async fn queue_entry(&self, record_key: &EventId) -> Result<QueueEntry, StoreError> {
        crate::store::lookup::queue_entry(&self.pool, record_key, db_error).await
    }
}

impl PostgresStore {
    /// Commits one end of a claim; when it made work claimable, `NOTIFY`s every replica in the
    /// transaction and wakes this process's workers.
    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'static, Postgres>,
        changed: bool,
    ) -> Result<(), StoreError> {
        if changed {
            enqueue::notify(&mut tx).await?;
        }
        commit(tx).await?;
        self.wake(changed);
        Ok(())
    }
}
