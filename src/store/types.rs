//! The values the [`Store`](super::Store) trait takes and returns: job requests and claims,
//! notifications, sync state, dead letters, grant status, counts, and the store's error type.
//! Plain data; the invariants about them are in the parent module's docs.

use jiff::Timestamp;

use crate::ids::{CrmRecordId, EventId, GrantId, NotificationId, TargetId};
use crate::store::PayloadText;

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
    /// A notification delivered to the webhook endpoint.
    Webhook,
    /// A backfill listing.
    Backfill,
    /// A reconciliation pass.
    Reconcile,
    /// `calsync replay` of a logged notification.
    Replay,
    /// `calsync dlq retry` of a dead letter.
    DeadLetterRetry,
}

/// A request to bring one record up to date.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRequest {
    /// The record key: the Nylas event id (`external_event_id`).
    pub record_key: EventId,
    /// The grant to read the event through.
    pub grant_id: GrantId,
    /// The calendar to read the event from (required by the Events API; may be unknown).
    pub calendar_id: Option<String>,
    /// Write or delete the record.
    pub action: JobAction,
    /// The event object as JSON text (a notification's as received), if any.
    pub payload: Option<PayloadText>,
    /// Where the payload came from, and so how far it can be trusted.
    pub origin: PayloadOrigin,
    /// The payload's `updated_at` (Unix seconds), if known.
    pub version: Option<i64>,
    /// Fetch the event even when the payload looks usable.
    pub force_fetch: bool,
    /// What caused the request.
    pub source: JobSource,
    /// The notification that caused it, if any.
    pub notification_id: Option<NotificationId>,
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
    pub id: NotificationId,
    /// The trigger type as sent (`event.updated.transformed`, …).
    pub trigger: String,
    /// The grant the notification is about, when it names one.
    pub grant_id: Option<GrantId>,
    /// The event the notification is about, when it names one.
    pub event_id: Option<EventId>,
    /// When calsync received it.
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
    /// The notification id (unique; redeliveries repeat it).
    pub id: NotificationId,
    /// The notification type (`event.updated`, `grant.expired`, …).
    pub trigger: String,
    /// The grant the notification is about, when it names one.
    pub grant_id: Option<GrantId>,
    /// The event the notification is about, when it names one.
    pub event_id: Option<EventId>,
    /// When calsync received it.
    pub received_at: Timestamp,
    /// The verified, decompressed body, kept for replay.
    pub body: Vec<u8>,
}

/// Which logged notifications to list.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    /// Received at or after.
    pub since: Option<Timestamp>,
    /// Received before (exclusive).
    pub until: Option<Timestamp>,
    /// Only notifications about this event.
    pub event_id: Option<EventId>,
}

/// Proof of holding a job: names the job and the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The claimed job's record key (the event id).
    pub record_key: EventId,
    /// Unique per claim.
    pub token: String,
    /// The job's generation when claimed.
    pub generation: i64,
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    /// What to do.
    pub request: JobRequest,
    /// The lease to finish the job with.
    pub lease: Lease,
    /// Failed attempts so far (of this generation).
    pub attempts: u32,
    /// When the job row was first created.
    pub enqueued_at: Timestamp,
    /// The last failure's message, if any.
    pub last_error: Option<String>,
}

/// What [`JobQueue::complete`](super::JobQueue::complete) did.
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
    pub target: TargetId,
    /// The record's key (the event id).
    pub record_key: EventId,
    /// The CRM's id for the record, once created.
    pub crm_record_id: Option<CrmRecordId>,
    /// The `updated_at` (Unix seconds) of the version last written or deleted.
    pub version: Option<i64>,
    /// [`crate::record::MeetingRecord::content_hash`] of the record last written.
    pub content_hash: Option<String>,
    /// The event was deleted (the record soft-deleted).
    pub tombstone: bool,
    /// A create was sent whose answer was not recorded: the record may exist.
    pub create_pending: bool,
    /// The grant whose event the record mirrors.
    pub grant_id: Option<GrantId>,
    /// The calendar holding the event.
    pub calendar_id: Option<String>,
    /// When this state was last written.
    pub updated_at: Option<Timestamp>,
}

/// A job that failed for good.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The dead letter's id (what `calsync dlq retry` names).
    pub id: i64,
    /// The job as it was when it failed for good.
    pub request: JobRequest,
    /// How many attempts failed, the last one included.
    pub attempts: u32,
    /// The last failure.
    pub last_error: String,
    /// When the job was first enqueued.
    pub enqueued_at: Timestamp,
    /// When it was moved to the dead letters.
    pub dead_at: Timestamp,
}

/// A job as it stands in the queue, for operators' commands (`calsync webhook test`).
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedJob {
    /// What the job does.
    pub request: JobRequest,
    /// Failed attempts so far (of this generation).
    pub attempts: u32,
    /// The last failure's message, if any.
    pub last_error: Option<String>,
    /// When the job row was first created.
    pub enqueued_at: Timestamp,
    /// When it may run (again).
    pub next_attempt_at: Timestamp,
    /// Until when a worker holds it, when claimed (an expired lease means nobody holds it).
    pub leased_until: Option<Timestamp>,
}

/// What the queue holds for one record key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueEntry {
    /// Its job, waiting or in flight.
    pub job: Option<QueuedJob>,
    /// Its newest dead letter, if it ever failed for good (and was not retried since).
    pub dead_letter: Option<DeadLetter>,
}

/// Which dead letters to requeue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterSelection {
    /// Every dead letter.
    All,
    /// The dead letters with these ids.
    Ids(Vec<i64>),
}

/// A grant's sync status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantStatus {
    /// Syncing (also a grant never recorded).
    Active,
    /// Paused since the given time (expired grant, or Nylas answered 401 for it).
    Paused {
        /// When the pause began.
        since: Timestamp,
    },
    /// Deleted: never synced again.
    Deleted {
        /// When the grant was deleted.
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
    /// Dead letters.
    pub dead: u64,
    /// The oldest `enqueued_at` of jobs not in flight.
    pub oldest_pending: Option<Timestamp>,
}

/// A store failure. `Unavailable` is the one the edge answers with 503.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or cannot commit right now (locked, disk full, connection
    /// lost). Callers retry later; the HTTP edge answers 503.
    #[error("the store is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The store URL or schema is wrong; start-up stops.
    #[error("the store cannot be opened: {0}")]
    Setup(String),
    /// Stored data could not be decoded (a bug or a manual edit).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database file the store opened was deleted or replaced while the process ran: every
    /// write is refused until a restart (a write now would go to a file nobody will read again).
    /// The HTTP edge answers 503, as for `Unavailable`.
    #[error("the store's database file is gone: {0}")]
    Detached(String),
    /// The ingest writer has stopped (shutting down).
    #[error("the store is shutting down")]
    Closed,
}
