//! The job queue ([`JobQueue`]): one row per record key, claimed under leases by the workers.
//!
//! Invariants every backend keeps (the conformance suite checks each):
//! - **One row per record key.** A job request for a key that already has a job replaces that
//!   job's content (coalescing) and bumps its `generation`, unless it is an upsert whose version
//!   is older than the pending upsert's (then it is dropped). When a job is due follows the
//!   store's [`QueuePolicy`](super::QueuePolicy): a burst of changes waits for a quiet window, at
//!   most a maximum delay. An upsert that replaces a pending delete is marked `force_fetch`, so a
//!   late notification can only resurrect an event the Events API still returns.
//! - **One job in flight per key.** Claiming sets a lease (`leased_until`, a fresh token); a
//!   leased job is not claimable until the lease expires. Completion, retry and dead-lettering
//!   name the lease and act only while the row still carries its token; when the generation
//!   changed while the job was in flight, the job is not removed but released, so it runs again
//!   with the newer content.
//! - Jobs of paused or deleted grants are neither claimed nor counted as due.
//!
//! The trait is implemented once for both backends over `portable::Engine`: the ends of a claim,
//! the statistics and the lookups with SQL both engines accept (`exec`, `lookup`); claiming and
//! enqueueing are the engine's hooks (`SKIP LOCKED` against `BEGIN IMMEDIATE`, multi-row against
//! row-by-row upserts), and so is how a lease is read before a claim ends (`FOR UPDATE` or not).

pub(in crate::store) mod exec;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::sync::Notify;

use super::portable::{Engine, commit_announced};
use super::{ClaimedJob, Completion, JobRequest, JobStats, Lease, QueueEntry, RetryPlan};
use super::{StoreError, lookup};
use crate::ids::EventId;

/// The job queue the workers claim from.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Signalled after work may have become available (new jobs, released leases). Workers arm
    /// it before claiming; other processes' work is found by polling.
    fn wakeups(&self) -> Arc<Notify>;

    /// Enqueues jobs that come from no notification (backfill, reconciliation, replay), with the
    /// same coalescing rules as ingest. Durable on return.
    async fn enqueue(&self, jobs: &[JobRequest], now: Timestamp) -> Result<(), StoreError>;

    /// Claims up to `limit` due jobs (not leased or lease expired, `next_attempt_at <= now`, grant
    /// not paused or deleted), oldest due first, leasing each until `now + lease_for`. A claim
    /// ends each job's coalescing burst: a request arriving during the run starts a new one.
    async fn claim(
        &self,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError>;

    /// Claims the job of one key if it exists and is claimable now (ignores `next_attempt_at`).
    async fn claim_key(
        &self,
        record_key: &EventId,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<Option<ClaimedJob>, StoreError>;

    /// Extends a lease still held; false when it was lost (expired and claimed by another).
    async fn extend_lease(
        &self,
        lease: &Lease,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<bool, StoreError>;

    /// Finishes a job: removes it, or releases it when its generation changed meanwhile.
    /// A lost lease (the job was reclaimed after expiry, or dropped with its grant) changes
    /// nothing and answers `Finished`: the caller is done with it either way.
    async fn complete(&self, lease: &Lease, now: Timestamp) -> Result<Completion, StoreError>;

    /// Reschedules a failed job (or releases it to run at once when its generation changed).
    /// Answers `Requeued` when released for newer content, otherwise `Finished` (rescheduled as
    /// planned, or the lease was lost and nothing changed).
    async fn retry(
        &self,
        lease: &Lease,
        plan: &RetryPlan,
        now: Timestamp,
    ) -> Result<Completion, StoreError>;

    /// Moves a failed job to the dead letters (or releases it when its generation changed).
    /// Returns the dead letter's id when one was written. The failure that killed the job counts
    /// in the dead letter's `attempts`.
    async fn dead_letter(
        &self,
        lease: &Lease,
        error: &str,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError>;

    /// Releases a lease without counting an attempt (shutdown): the job is due again at once.
    async fn release(&self, lease: &Lease, now: Timestamp) -> Result<(), StoreError>;

    /// The earliest `next_attempt_at` of unleased jobs, or the earliest lease expiry, whichever
    /// is first; `None` when there are no jobs.
    async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Job counts.
    async fn job_stats(&self, now: Timestamp) -> Result<JobStats, StoreError>;

    /// What the queue holds for one record key: its job and its newest dead letter. For
    /// operators' commands (`calsync webhook test`), not for the workers.
    async fn queue_entry(&self, record_key: &EventId) -> Result<QueueEntry, StoreError>;
}

/// What a backend supplies for the job queue beyond [`Engine`]: claiming and enqueueing, and how
/// a lease is read before a claim ends. Its writes are unguarded: the shared implementation runs
/// them under [`Engine::guarded`] and wakes this process's workers after.
pub(in crate::store) trait QueueEngine: Engine {
    /// Reads a job's generation and lease token (`$1` the record key) before a claim ends:
    /// PostgreSQL locks the row (`exec::HELD_FOR_UPDATE`); SQLite's write transaction excludes
    /// every other writer already (`exec::HELD`).
    const HELD: &'static str;

    /// [`JobQueue::claim`] of at least one job.
    fn claim_due(
        &self,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ClaimedJob>, StoreError>> + Send;

    /// [`JobQueue::claim_key`].
    fn claim_one(
        &self,
        record_key: &EventId,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
    ) -> impl Future<Output = Result<Option<ClaimedJob>, StoreError>> + Send;

    /// Enqueues `jobs` (at least one) in one transaction, announced when it changed anything;
    /// true when any job was created or changed.
    fn enqueue_requests(
        &self,
        jobs: &[JobRequest],
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[async_trait]
impl<E: QueueEngine> JobQueue for E {
    fn wakeups(&self) -> Arc<Notify> {
        Engine::wakeups(self).clone()
    }

    async fn enqueue(&self, jobs: &[JobRequest], now: Timestamp) -> Result<(), StoreError> {
        // Guarded even when empty: a store that lost its file refuses every write.
        let write = async {
            if jobs.is_empty() {
                return Ok(false);
            }
            self.enqueue_requests(jobs, now).await
        };
        let changed = self.guarded(write).await?;
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
        let write = async {
            if limit == 0 {
                return Ok(Vec::new());
            }
            self.claim_due(owner, now, lease_for, limit).await
        };
        self.guarded(write).await
    }

    async fn claim_key(
        &self,
        record_key: &EventId,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        self.guarded(self.claim_one(record_key, owner, now, lease_for))
            .await
    }

    async fn extend_lease(
        &self,
        lease: &Lease,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<bool, StoreError> {
        let write = exec::extend_lease(self.writes(), lease, now, lease_for, E::classify);
        self.guarded(write).await
    }

    async fn complete(&self, lease: &Lease, _now: Timestamp) -> Result<Completion, StoreError> {
        let write = async {
            let mut tx = self.begin_write().await?;
            let completion = exec::complete::<E::Db>(&mut tx, lease, E::HELD, E::classify).await?;
            let requeued = completion == Completion::Requeued;
            commit_announced::<E>(tx, requeued).await?;
            Ok(completion)
        };
        let completion = self.guarded(write).await?;
        self.wake(completion == Completion::Requeued);
        Ok(completion)
    }

    async fn retry(
        &self,
        lease: &Lease,
        plan: &RetryPlan,
        now: Timestamp,
    ) -> Result<Completion, StoreError> {
        let write = async {
            let mut tx = self.begin_write().await?;
            let (completion, changed) =
                exec::retry::<E::Db>(&mut tx, lease, plan, now, E::HELD, E::classify).await?;
            commit_announced::<E>(tx, changed).await?;
            Ok((completion, changed))
        };
        let (completion, changed) = self.guarded(write).await?;
        self.wake(changed);
        Ok(completion)
    }

    async fn dead_letter(
        &self,
        lease: &Lease,
        error: &str,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let write = async {
            let mut tx = self.begin_write().await?;
            let (id, released) =
                exec::dead_letter::<E::Db>(&mut tx, lease, error, now, E::HELD, E::classify)
                    .await?;
            commit_announced::<E>(tx, released).await?;
            Ok((id, released))
        };
        let (id, released) = self.guarded(write).await?;
        self.wake(released);
        Ok(id)
    }

    async fn release(&self, lease: &Lease, now: Timestamp) -> Result<(), StoreError> {
        let write = async {
            let mut tx = self.begin_write().await?;
            let released = exec::release::<E::Db>(&mut tx, lease, now, E::classify).await?;
            commit_announced::<E>(tx, released).await?;
            Ok(released)
        };
        let released = self.guarded(write).await?;
        self.wake(released);
        Ok(())
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        exec::next_due_at(self.reads(), E::classify).await
    }

    async fn job_stats(&self, now: Timestamp) -> Result<JobStats, StoreError> {
        exec::job_stats(self.reads(), now, E::classify).await
    }

    async fn queue_entry(&self, record_key: &EventId) -> Result<QueueEntry, StoreError> {
        lookup::queue_entry(self.reads(), record_key, E::classify).await
    }
}
