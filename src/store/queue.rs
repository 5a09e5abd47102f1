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
//! Claiming and enqueueing are each backend's (`SKIP LOCKED` against `BEGIN IMMEDIATE`, multi-row
//! against row-by-row upserts); the ends of a claim, the statistics and the lookups are written
//! once (`exec`).

pub(in crate::store) mod exec;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::sync::Notify;

use super::StoreError;
use super::{ClaimedJob, Completion, JobRequest, JobStats, Lease, QueueEntry, RetryPlan};
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
