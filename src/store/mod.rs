//! The durable store: notification log, jobs, sync state, dead letters, grants, cursors and
//! named locks, behind one [`Store`] trait with one implementation per backend.
//!
//! Invariants every backend keeps (the conformance suite in `tests/` checks each):
//! - **Durable ingest.** [`Store::ingest`] commits a whole batch in one transaction with full
//!   durability before returning; a notification id is stored once (later copies are
//!   [`IngestOutcome::Duplicate`]) and only a newly stored notification touches the jobs.
//! - **One row per record key.** A job request for a key that already has a job replaces that
//!   job's content (coalescing) and bumps its `generation`, unless it is an upsert whose version
//!   is older than the pending upsert's (then it is dropped). When a job is due follows the
//!   store's [`QueuePolicy`]: a burst of changes waits for a quiet window, at most a maximum
//!   delay. An upsert that replaces a pending
//!   delete is marked `force_fetch`, so a late notification can only resurrect an event the
//!   Events API still returns.
//! - **One job in flight per key.** Claiming sets a lease (`leased_until`, a fresh token); a
//!   leased job is not claimable until the lease expires. Completion, retry and dead-lettering
//!   name the lease; when the generation changed while the job was in flight, the job is not
//!   removed but released, so it runs again with the newer content.
//! - **A failed write heals.** After any failed commit (disk full, I/O error, lock timeout, lost
//!   connection) the backend is left clean — the abandoned transaction rolled back or its
//!   connection replaced — so the next call succeeds as soon as the cause is gone, with no
//!   restart.
//! - **No write into a lost file.** A backend whose storage was deleted or replaced under the
//!   process (the SQLite file) refuses every write with [`StoreError::Detached`] until restart,
//!   and never reports a write that landed in the lost file as committed.
//! - **Time is an argument.** Every method that depends on the time takes `now`; backends never
//!   read a clock, so schedules and leases are testable without sleeping.
//!
//! - **Series are remembered per grant** ([`series`]): the occurrences seen of each recurring
//!   series, and how far the last complete listing of them reached.
//!
//! - **One record key per meeting.** The [`MeetingLedger`] binds each meeting to one record key
//!   for good (see [`meetings`]).
//!
//! Backends: [`sqlite`] (embedded, the default; one process) and [`postgres`] (shared by several
//! replicas). Nothing outside this module knows which backend is in use; `codec` holds the
//! column encodings both share.

mod codec;
pub mod ingest;
mod lookup;
pub mod meetings;
mod policy;
pub mod postgres;
mod redact;
mod schema;
pub mod series;
pub mod sqlite;
mod types;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::sync::Notify;

pub use ingest::Ingestor;
pub use meetings::{CopyStatus, MeetingCopy, MeetingLedger};
pub use policy::QueuePolicy;
pub use redact::redact_url;
pub use series::{Occurrence, SeriesKey, SeriesRecord, SeriesStore};
pub use types::{
    ClaimedJob, Completion, DeadLetter, DeadLetterSelection, GrantChange, GrantStatus,
    IncomingNotification, IngestOutcome, JobAction, JobRequest, JobSource, JobStats, Lease,
    NotificationFilter, PayloadOrigin, QueueEntry, QueuedJob, RetryPlan, StoreError,
    StoredNotification, SyncState,
};

/// The durable store. See the module docs for the invariants.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The backend's name (`sqlite`, `postgres`), for logs.
    fn backend(&self) -> &'static str;

    /// Signalled after work may have become available (new jobs, released leases). Workers arm
    /// it before claiming; other processes' work is found by polling.
    fn wakeups(&self) -> Arc<Notify>;

    /// Closes the connections, waiting for them to finish. A command that opened the store
    /// briefly calls it before exiting, so that nothing is left behind (SQLite removes its
    /// `-wal` and `-shm` files when the last connection closes cleanly).
    async fn close(&self);

    /// The series operations ([`SeriesStore`]) on the same database.
    fn series(&self) -> &dyn SeriesStore;

    /// Checks the store can be reached (a read; `/readyz` proves a write instead).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a batch of notifications in one durable transaction; one outcome per notification,
    /// in order. Applies their jobs and grant changes.
    async fn ingest(
        &self,
        batch: &[IncomingNotification],
        now: Timestamp,
    ) -> Result<Vec<IngestOutcome>, StoreError>;

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
        record_key: &str,
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

    /// The sync state of a record in a target.
    async fn load_state(
        &self,
        target: &str,
        record_key: &str,
    ) -> Result<Option<SyncState>, StoreError>;

    /// Writes (inserts or replaces) a sync state.
    async fn save_state(&self, state: &SyncState) -> Result<(), StoreError>;

    /// The meeting ledger: the copies of each meeting and the record key it writes to.
    fn meetings(&self) -> &dyn MeetingLedger;

    /// What the queue holds for one record key: its job and its newest dead letter. For
    /// operators' commands (`calsync webhook test`), not for the workers.
    async fn queue_entry(&self, record_key: &str) -> Result<QueueEntry, StoreError>;

    /// Dead letters, oldest first, up to `limit`.
    async fn list_dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError>;

    /// Requeues dead letters as jobs (coalescing with any job of the same key) and removes them.
    /// Returns how many were requeued.
    async fn retry_dead_letters(
        &self,
        selection: &DeadLetterSelection,
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Logged notifications matching the filter, oldest first.
    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> Result<Vec<StoredNotification>, StoreError>;

    /// Deletes logged notifications received before `before`; returns how many.
    async fn prune_notifications(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Sets a grant's status.
    async fn set_grant_status(
        &self,
        grant_id: &str,
        status: &GrantStatus,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// A grant's status (`Active` when never recorded).
    async fn grant_status(&self, grant_id: &str) -> Result<GrantStatus, StoreError>;

    /// How many grants are paused (for `calsync_grants_paused`).
    async fn paused_grants(&self) -> Result<u64, StoreError>;

    /// Reads a named cursor (backfill page tokens, reconciliation watermarks).
    async fn get_cursor(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Writes a named cursor.
    async fn put_cursor(&self, name: &str, value: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Deletes cursors whose name starts with `prefix`; returns how many.
    async fn delete_cursors(&self, prefix: &str) -> Result<u64, StoreError>;

    /// Takes or renews a named lock for `owner` until `now + ttl`; false when another owner holds
    /// it unexpired. Used so one replica runs periodic tasks (reconciliation).
    async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Releases a named lock held by `owner` (clean shutdown), so the next process takes it at
    /// once; does nothing when another owner holds it.
    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), StoreError>;
}

/// Opens an existing store to read it, changing nothing: a SQLite file is not created when
/// missing (that is an error naming the path), no migration runs, and the connections are
/// read-only (every write fails). The schema must be the one this build migrates to. For
/// operators' commands that inspect a deployment (`check`, `webhook test`).
pub async fn open_existing(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open_existing(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::open_existing(url).await?))
    } else {
        Err(unsupported(url))
    }
}

/// Opens the store a URL names (`sqlite://…`, `postgres://…` or `postgresql://…`), running its
/// migrations, with [`QueuePolicy::IMMEDIATE`] (jobs due when enqueued).
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, QueuePolicy::IMMEDIATE).await
}

/// Opens the store a URL names, running its migrations; its enqueues follow `policy`
/// (coalescing, see [`QueuePolicy`]).
pub async fn open_with(url: &str, policy: QueuePolicy) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            sqlite::SqliteStore::open(url)
                .await?
                .with_queue_policy(policy),
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            postgres::PostgresStore::open(url)
                .await?
                .with_queue_policy(policy),
        ))
    } else {
        Err(unsupported(url))
    }
}

fn unsupported(url: &str) -> StoreError {
    StoreError::Setup(format!(
        "unsupported store URL scheme in {:?}: expected sqlite://PATH or \
         postgres://USER:PASSWORD@HOST:PORT/DATABASE",
        redact_url(url)
    ))
}
