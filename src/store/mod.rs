//! The durable store, by concern: the notification log ([`NotificationLog`]), the job queue
//! ([`JobQueue`]), sync state ([`SyncStates`]), dead letters ([`DeadLetters`]), grant status
//! ([`Grants`]), cursors and locks ([`Coordination`]), recurring series ([`SeriesStore`]) and the
//! meeting ledger ([`MeetingLedger`]). Each concern is a narrow trait with its invariants in its
//! module; callers take only the seams they use. [`Store`] is all of them on one database, what
//! [`open`] returns, so `App` and commands open one store and hand out narrow seams (an
//! `Arc<dyn Store>` coerces to any `Arc<dyn …>` of its concerns).
//!
//! Invariants every backend keeps besides the concerns' own (the conformance suite in `tests/`
//! checks each):
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
//! Backends: [`sqlite`] (embedded, the default; one process) and [`postgres`] (shared by several
//! replicas). Nothing outside this module knows which backend is in use. SQL that both engines
//! accept is written once, beside its concern's trait (each concern module's `exec`, with
//! `codec` for the column encodings and `portable` for running it on either engine). Every
//! concern is implemented once over `portable::Engine`, which each backend implements in its
//! `engine` module (where reads and writes go, how a write transaction begins, how writes are
//! guarded, wake-ups of other processes, the grant-deletion fence); a concern with a difference
//! of its own states it in a hook trait beside it (`queue::QueueEngine`: claiming and enqueue;
//! `notifications::IngestEngine`: multi-row ingest; `dead_letters::RetryEngine`: requeueing),
//! implemented in the backend's file for that concern. A backend keeps only those hooks, pool
//! setup and error classification.

mod codec;
pub mod coordination;
pub mod dead_letters;
pub mod grants;
pub mod ingest;
mod lookup;
pub mod meetings;
pub mod notifications;
mod payload;
mod policy;
mod portable;
pub mod postgres;
pub mod queue;
mod redact;
mod schema;
pub mod series;
pub mod sqlite;
pub mod states;
mod types;

use std::sync::Arc;

use async_trait::async_trait;

pub use coordination::Coordination;
pub use dead_letters::DeadLetters;
pub use grants::Grants;
pub use ingest::Ingestor;
pub use meetings::{CopyStatus, MeetingCopy, MeetingLedger};
pub use notifications::NotificationLog;
pub use payload::PayloadText;
pub use policy::QueuePolicy;
pub use queue::JobQueue;
pub use redact::redact_url;
pub use series::{Occurrence, SeriesKey, SeriesRecord, SeriesStore};
pub use states::SyncStates;
pub use types::{
    ClaimedJob, Completion, DeadLetter, DeadLetterSelection, GrantChange, GrantStatus,
    IncomingNotification, IngestOutcome, JobAction, JobRequest, JobSource, JobStats, Lease,
    NotificationFilter, PayloadOrigin, QueueEntry, QueuedJob, RetryPlan, StoreError,
    StoredNotification, SyncState,
};

/// The database itself, apart from what it stores: which backend, whether it answers, closing.
#[async_trait]
pub trait Lifecycle: Send + Sync + 'static {
    /// The backend's name (`sqlite`, `postgres`), for logs.
    fn backend(&self) -> &'static str;

    /// Closes the connections, waiting for them to finish. A command that opened the store
    /// briefly calls it before exiting, so that nothing is left behind (SQLite removes its
    /// `-wal` and `-shm` files when the last connection closes cleanly).
    async fn close(&self);

    /// Checks the store can be reached (a read; `/readyz` proves a write instead).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Every concern of one database: what [`open`] returns. Implemented for anything that
/// implements all the concerns, so a wrapper (a test's fault injector) is a `Store` as soon as
/// it covers each seam.
pub trait Store:
    Lifecycle
    + NotificationLog
    + JobQueue
    + SyncStates
    + DeadLetters
    + Grants
    + Coordination
    + SeriesStore
    + MeetingLedger
{
}

impl<T> Store for T where
    T: ?Sized
        + Lifecycle
        + NotificationLog
        + JobQueue
        + SyncStates
        + DeadLetters
        + Grants
        + Coordination
        + SeriesStore
        + MeetingLedger
{
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
