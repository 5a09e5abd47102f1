//! The durable store: notification log, jobs, sync state, dead letters, grants, cursors and
//! named locks, behind one [`Store`] trait with one implementation per backend.
//!
//! Invariants every backend keeps (the conformance suite in `tests/` checks each):
//! - **Durable ingest.** [`Store::ingest`] commits a whole batch in one transaction with full
//!   durability before returning; a notification id is stored once (later copies are
//!   [`IngestOutcome::Duplicate`]) and only a newly stored notification touches the jobs.
//! - **One row per record key.** A job request for a key that already has a job replaces that
//!   job's content (coalescing) and bumps its `generation`, unless it is an upsert whose version
//!   is older than the pending upsert's (then it is dropped). An upsert that replaces a pending
//!   delete is marked `force_fetch`, so a late notification can only resurrect an event the
//!   Events API still returns.
//! - **One job in flight per key.** Claiming sets a lease (`leased_until`, a fresh token); a
//!   leased job is not claimable until the lease expires. Completion, retry and dead-lettering
//!   name the lease; when the generation changed while the job was in flight, the job is not
//!   removed but released, so it runs again with the newer content.
//! - **Time is an argument.** Every method that depends on the time takes `now`; backends never
//!   read a clock, so schedules and leases are testable without sleeping.
//!
//! Backends: [`sqlite`] (embedded, the default; one process) and [`postgres`] (shared by several
//! replicas). Nothing outside this module knows which backend is in use; `codec` holds the
//! column encodings both share.

mod codec;
pub mod ingest;
pub mod postgres;
mod redact;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::Notify;

pub use ingest::Ingestor;
pub use redact::redact_url;

/// What a job does to its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    /// Create or update the record from the event's current state.
    Upsert,
    /// Soft-delete the record.
    Delete,
}

/// Where a job's payload came from, which decides whether the worker must fetch the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadOrigin {
    /// No payload: the worker must fetch (or, for a delete, needs none).
    None,
    /// A plain `event.created|updated` notification with a `when`: usable when
    /// `nylas.fetch = "when_incomplete"`.
    NotificationComplete,
    /// A notification that may be partial (a type suffix, or fields missing): always fetch.
    NotificationPartial,
    /// A listing of the Events API (backfill, reconciliation): current as of the listing.
    EventsApi,
}

/// Why a job exists (for logs, metrics and the backfill summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobSource {
    Webhook,
    Backfill,
    Reconcile,
    Replay,
    DeadLetterRetry,
}

/// A request to bring one record up to date.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRequest {
    /// The record key: the Nylas event id (`external_event_id`).
    pub record_key: String,
    /// The grant to read the event through.
    pub grant_id: String,
    /// The calendar to read the event from (required by the Events API; may be unknown).
    pub calendar_id: Option<String>,
    pub action: JobAction,
    /// The event object as received, if any.
    pub payload: Option<Value>,
    pub origin: PayloadOrigin,
    /// The payload's `updated_at` (Unix seconds), if known.
    pub version: Option<i64>,
    /// Fetch the event even when the payload looks usable.
    pub force_fetch: bool,
    pub source: JobSource,
    /// The notification that caused it, if any.
    pub notification_id: Option<String>,
}

/// A grant lifecycle change carried by a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantChange {
    /// `grant.expired`: pause the grant's jobs.
    Expired,
    /// `grant.updated`: re-authenticated; resume.
    Updated,
    /// `grant.deleted`: stop syncing it for good.
    Deleted,
}

/// A verified notification ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingNotification {
    /// The notification id (deduplication key).
    pub id: String,
    /// The trigger type as sent (`event.updated.transformed`, …).
    pub trigger: String,
    pub grant_id: Option<String>,
    pub event_id: Option<String>,
    pub received_at: Timestamp,
    /// The JSON body (decompressed), kept for replay.
    pub body: Vec<u8>,
    /// The job it causes, if any.
    pub job: Option<JobRequest>,
    /// The grant change it causes, if any (applied with the grant id above).
    pub grant_change: Option<GrantChange>,
}

/// The result of ingesting one notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Newly stored.
    Accepted,
    /// Already stored earlier (a redelivery): nothing changed.
    Duplicate,
}

/// A notification from the log (for replay).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNotification {
    pub id: String,
    pub trigger: String,
    pub grant_id: Option<String>,
    pub event_id: Option<String>,
    pub received_at: Timestamp,
    pub body: Vec<u8>,
}

/// Which logged notifications to list.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    /// Received at or after.
    pub since: Option<Timestamp>,
    /// Received before (exclusive).
    pub until: Option<Timestamp>,
    pub event_id: Option<String>,
}

/// Proof of holding a job: names the job and the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub record_key: String,
    /// Unique per claim.
    pub token: String,
    /// The job's generation when claimed.
    pub generation: i64,
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub request: JobRequest,
    pub lease: Lease,
    /// Failed attempts so far (of this generation).
    pub attempts: u32,
    /// When the job row was first created.
    pub enqueued_at: Timestamp,
    /// The last failure's message, if any.
    pub last_error: Option<String>,
}

/// What [`Store::complete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The job is gone.
    Finished,
    /// The key was notified while in flight: the job stays, released, to run again.
    Requeued,
}

/// How a failed job is rescheduled.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPlan {
    /// When to try again.
    pub at: Timestamp,
    /// What went wrong (Display of the error; never a secret).
    pub error: String,
    /// Whether this failure counts against `max_attempts`. Target-wide trouble (an outage, a
    /// throttle, bad credentials) does not: the event did nothing wrong.
    pub count_attempt: bool,
}

/// The sync state of one record in one target (invariants 4–6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncState {
    /// The CRM target (adapter kind and endpoint).
    pub target: String,
    pub record_key: String,
    /// The CRM's id for the record, once created.
    pub crm_record_id: Option<String>,
    /// The `updated_at` (Unix seconds) of the version last written or deleted.
    pub version: Option<i64>,
    /// [`crate::record::MeetingRecord::content_hash`] of the record last written.
    pub content_hash: Option<String>,
    /// The event was deleted (the record soft-deleted).
    pub tombstone: bool,
    /// A create was sent whose answer was not recorded: the record may exist.
    pub create_pending: bool,
    pub grant_id: Option<String>,
    pub calendar_id: Option<String>,
    pub updated_at: Option<Timestamp>,
}

/// A job that failed for good.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: i64,
    pub request: JobRequest,
    pub attempts: u32,
    pub last_error: String,
    pub enqueued_at: Timestamp,
    pub dead_at: Timestamp,
}

/// Which dead letters to requeue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterSelection {
    All,
    Ids(Vec<i64>),
}

/// A grant's sync status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantStatus {
    Active,
    /// Paused since the given time (expired grant, or Nylas answered 401 for it).
    Paused {
        since: Timestamp,
    },
    /// Deleted: never synced again.
    Deleted {
        at: Timestamp,
    },
}

/// Counts for metrics and `/readyz`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobStats {
    /// Due now or later, not leased, never failed.
    pub pending: u64,
    /// Leased.
    pub in_flight: u64,
    /// Not leased, failed at least once, waiting for their next attempt.
    pub retrying: u64,
    pub dead: u64,
    /// The oldest `enqueued_at` of jobs not in flight.
    pub oldest_pending: Option<Timestamp>,
}

/// A store failure. `Unavailable` is the one the edge answers with 503.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or cannot commit right now (locked, disk full, connection
    /// lost). Callers retry later; the HTTP edge answers 503.
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The store URL or schema is wrong; start-up stops.
    #[error("the store cannot be opened: {0}")]
    Setup(String),
    /// Stored data could not be decoded (a bug or a manual edit).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The ingest writer has stopped (shutting down).
    #[error("the store is shutting down")]
    Closed,
}

/// The durable store. See the module docs for the invariants.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The backend's name (`sqlite`, `postgres`), for logs.
    fn backend(&self) -> &'static str;

    /// Signalled after work may have become available (new jobs, released leases). Workers arm
    /// it before claiming; other processes' work is found by polling.
    fn wakeups(&self) -> Arc<Notify>;

    /// Checks the store can be reached (for `/readyz`).
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
    /// not paused or deleted), oldest due first, leasing each until `now + lease_for`.
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
}

/// Opens the store a URL names (`sqlite://…`, `postgres://…` or `postgresql://…`), running its
/// migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::open(url).await?))
    } else {
        Err(StoreError::Setup(format!(
            "unsupported store URL scheme in {:?}: expected sqlite://PATH or \
             postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            redact_url(url)
        )))
    }
}
