//! The job queue on SQLite ([`JobQueue`]): claiming with leases here; the ends of a claim, the
//! statistics and the lookups in [`crate::store::queue::exec`]; enqueueing in
//! [`super::enqueue`].
//!
//! Invariants:
//! - A claim is one `BEGIN IMMEDIATE` transaction: nobody else can claim between choosing the
//!   rows and leasing them. Each claimed row gets its own uuid v4 token.
//! - The ends of a claim are one `BEGIN IMMEDIATE` transaction each (the write lock is held, so
//!   the row needs no lock of its own) and wake this process's workers when work became
//!   claimable.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::Sqlite;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::Notify;

use super::{SqliteStore, begin_write, commit, db_error, enqueue};
use crate::ids::EventId;
use crate::store::codec::{millis, millis_after};
use crate::store::queue::{JobQueue, exec};
use crate::store::{
    ClaimedJob, Completion, JobRequest, JobStats, Lease, QueueEntry, RetryPlan, StoreError,
};

const CLAIM_CANDIDATES: &str = "\
SELECT j.record_key FROM jobs j
WHERE j.next_attempt_at <= $1
  AND (j.leased_until IS NULL OR j.leased_until <= $1)
  AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = j.grant_id AND g.status <> 'active')
ORDER BY j.next_attempt_at, j.record_key
LIMIT $2";

const LEASE_KEY: &str = "\
UPDATE jobs SET leased_until = $2, lease_token = $3, lease_owner = $4, burst_started_at = NULL
WHERE record_key = $1
  AND (leased_until IS NULL OR leased_until <= $5)
  AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = jobs.grant_id AND g.status <> 'active')
RETURNING record_key, grant_id, calendar_id, action, payload, origin, version, force_fetch,
          source, notification_id, generation, attempts, enqueued_at, last_error, lease_token";

impl SqliteStore {
    /// Claims up to `limit` due jobs, oldest due first, in one transaction.
    async fn claim_now(
        &self,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = begin_write(&self.write).await?;
        let keys: Vec<String> = sqlx::query_scalar(CLAIM_CANDIDATES)
            .bind(millis(now))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        let mut claimed = Vec::with_capacity(keys.len());
        for key in keys {
            let key = EventId::from(key);
            if let Some(job) = lease_key(&mut tx, &key, owner, now, lease_for).await? {
                claimed.push(job);
            }
        }
        commit(tx).await?;
        Ok(claimed)
    }

    /// Claims the job of one key if it is claimable now, whether due or not.
    async fn claim_key_now(
        &self,
        record_key: &EventId,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let mut tx = begin_write(&self.write).await?;
        let claimed = lease_key(&mut tx, record_key, owner, now, lease_for).await?;
        commit(tx).await?;
        Ok(claimed)
    }

    /// Finishes a claimed job in one write transaction.
    async fn complete_now(&self, lease: &Lease) -> Result<Completion, StoreError> {
        let mut tx = begin_write(&self.write).await?;
        let completion = exec::complete::<Sqlite>(&mut tx, lease, exec::HELD, db_error).await?;
        commit(tx).await?;
        Ok(completion)
    }

    /// Reschedules a failed job in one write transaction.
    async fn retry_now(
        &self,
        lease: &Lease,
        plan: &RetryPlan,
        now: Timestamp,
    ) -> Result<(Completion, bool), StoreError> {
        let mut tx = begin_write(&self.write).await?;
        let outcome =
            exec::retry::<Sqlite>(&mut tx, lease, plan, now, exec::HELD, db_error).await?;
        commit(tx).await?;
        Ok(outcome)
    }

    /// Buries a failed job in one write transaction.
    async fn dead_letter_now(
        &self,
        lease: &Lease,
        error: &str,
        now: Timestamp,
    ) -> Result<(Option<i64>, bool), StoreError> {
        let mut tx = begin_write(&self.write).await?;
        let outcome =
            exec::dead_letter::<Sqlite>(&mut tx, lease, error, now, exec::HELD, db_error).await?;
        commit(tx).await?;
        Ok(outcome)
    }

    /// Releases a lease on the write connection (one statement, no transaction needed).
    async fn release_now(&self, lease: &Lease, now: Timestamp) -> Result<bool, StoreError> {
        let mut conn = self.write.acquire().await.map_err(db_error)?;
        exec::release::<Sqlite>(&mut conn, lease, now, db_error).await
    }
}

async fn lease_key(
    conn: &mut SqliteConnection,
    record_key: &EventId,
    owner: &str,
    now: Timestamp,
    lease_for: Duration,
) -> Result<Option<ClaimedJob>, StoreError> {
    let row = sqlx::query(LEASE_KEY)
        .bind(record_key.as_str())
        .bind(millis_after(now, lease_for))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(owner)
        .bind(millis(now))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    row.as_ref().map(exec::claimed_from_row).transpose()
}

#[async_trait]
impl JobQueue for SqliteStore {
    fn wakeups(&self) -> Arc<Notify> {
        self.wakeups.clone()
    }

    async fn enqueue(&self, jobs: &[JobRequest], now: Timestamp) -> Result<(), StoreError> {
        let changed = self
            .checked(enqueue::enqueue(&self.write, jobs, now, &self.policy))
            .await?;
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
        self.checked(self.claim_now(owner, now, lease_for, limit))
            .await
    }

    async fn claim_key(
        &self,
        record_key: &EventId,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        self.checked(self.claim_key_now(record_key, owner, now, lease_for))
            .await
    }

    async fn extend_lease(
        &self,
        lease: &Lease,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<bool, StoreError> {
        self.checked(exec::extend_lease(
            &self.write,
            lease,
            now,
            lease_for,
            db_error,
        ))
        .await
    }

    async fn complete(&self, lease: &Lease, _now: Timestamp) -> Result<Completion, StoreError> {
        let completion = self.checked(self.complete_now(lease)).await?;
        self.wake(completion == Completion::Requeued);
        Ok(completion)
    }

    async fn retry(
        &self,
        lease: &Lease,
        plan: &RetryPlan,
        now: Timestamp,
    ) -> Result<Completion, StoreError> {
        let (completion, changed) = self.checked(self.retry_now(lease, plan, now)).await?;
        self.wake(changed);
        Ok(completion)
    }

    async fn dead_letter(
        &self,
        lease: &Lease,
        error: &str,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let (id, released) = self
            .checked(self.dead_letter_now(lease, error, now))
            .await?;
        self.wake(released);
        Ok(id)
    }

    async fn release(&self, lease: &Lease, now: Timestamp) -> Result<(), StoreError> {
        let released = self.checked(self.release_now(lease, now)).await?;
        self.wake(released);
        Ok(())
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        exec::next_due_at(&self.read, db_error).await
    }

    async fn job_stats(&self, now: Timestamp) -> Result<JobStats, StoreError> {
        exec::job_stats(&self.read, now, db_error).await
    }

    async fn queue_entry(&self, record_key: &EventId) -> Result<QueueEntry, StoreError> {
        crate::store::lookup::queue_entry(&self.read, record_key, db_error).await
    }
}
