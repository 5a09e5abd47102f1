//! Claiming on SQLite, the engine hook of the job queue ([`crate::store::JobQueue`], implemented
//! once in [`crate::store::queue`]; enqueueing in [`super::enqueue`]).
//!
//! Invariants:
//! - A claim is one `BEGIN IMMEDIATE` transaction: nobody else can claim between choosing the
//!   rows and leasing them. Each claimed row gets its own uuid v4 token.
//! - The ends of a claim (shared) are one `BEGIN IMMEDIATE` transaction each: the write lock is
//!   held, so the row needs no lock of its own (`exec::HELD`).
//! - A claim first looks on a read connection whether any job is claimable; when none is, it
//!   takes no write lock at all. Every ingest commit wakes the worker pool, so without this look
//!   each commit was followed by an empty write transaction holding up the next ingest batch on
//!   the one write connection. The look is only a hint: the claim itself re-reads under the lock.

use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::sqlite::SqliteConnection;

use super::{SqliteStore, begin_write, commit, db_error, enqueue};
use crate::ids::EventId;
use crate::store::codec::{millis, millis_after};
use crate::store::queue::{QueueEngine, exec};
use crate::store::{ClaimedJob, JobRequest, StoreError};

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

impl QueueEngine for SqliteStore {
    const HELD: &'static str = exec::HELD;

    /// Claims up to `limit` due jobs, oldest due first, in one transaction.
    async fn claim_due(
        &self,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let any_claimable: Option<String> = sqlx::query_scalar(CLAIM_CANDIDATES)
            .bind(millis(now))
            .bind(1_i64)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        if any_claimable.is_none() {
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
    async fn claim_one(
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

    fn enqueue_requests(
        &self,
        jobs: &[JobRequest],
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        enqueue::enqueue(&self.write, jobs, now, &self.policy)
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
