//! Group-commit ingest: the HTTP edge hands each verified notification to one writer task, which
//! commits them to the store in batches and answers every sender once its batch is durable.
//!
//! Why group commit: a durable commit costs an fsync, and an fsync costs about the same whether
//! it covers one notification or a hundred. One transaction per request would cap throughput at
//! the disk's fsync rate and make concurrent requests contend for the single SQLite writer.
//! Instead the writer takes the first queued notification, then everything else already waiting
//! (up to `max_batch`), and commits them with one [`NotificationLog::ingest`] call: one fsync per batch.
//! Batches grow with load by themselves: while one batch commits, the next one queues up. When
//! idle, a lone notification commits at once, so there is no added latency.
//!
//! Invariants:
//! - [`Ingestor::submit`] returns `Ok` only after the notification's batch committed (a 200 means
//!   durable). If the commit fails, every notification of the batch gets the error (nothing of it
//!   was stored; the sender answers 503 and Nylas redelivers) and the writer carries on with the
//!   next batch.
//! - [`Ingestor::close`] stops accepting, commits what is already queued, and waits for the
//!   writer, so nothing accepted into the queue is dropped at shutdown.
//! - Backend-agnostic: only the [`NotificationLog`] seam is used.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{IncomingNotification, IngestOutcome, NotificationLog, StoreError};
use crate::clock::Clock;

/// Why a notification was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// Its batch could not be committed (store busy, disk full, connection lost, …). The error is
    /// shared by every notification of the batch.
    #[error("the notification could not be stored")]
    Unavailable(#[source] Arc<StoreError>),
    /// The ingestor is shut down (or its writer stopped).
    #[error("the ingest writer has stopped")]
    Closed,
}

impl IngestError {
    fn from_store(error: StoreError) -> Self {
        match error {
            StoreError::Closed => IngestError::Closed,
            other => IngestError::Unavailable(Arc::new(other)),
        }
    }
}

/// Counters of the writer's work, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Batches handed to the store (committed or failed).
    pub batches: u64,
    /// Notifications in those batches.
    pub notifications: u64,
    /// Batches whose commit failed.
    pub failed_batches: u64,
}

type Reply = oneshot::Sender<Result<IngestOutcome, IngestError>>;

/// One queued notification and where to send its outcome.
struct Submission {
    notification: IncomingNotification,
    reply: Reply,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    notifications: AtomicU64,
    failed_batches: AtomicU64,
}

struct Shared {
    /// The queue's sending side; `None` once closing (submissions are refused).
    sender: Mutex<Option<mpsc::Sender<Submission>>>,
    /// The writer task; taken by the first `close`, which holds the lock until it finished.
    writer: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
}

/// Hands notifications to one writer that commits them in batches. Cheap to clone; all clones
/// feed the same writer.
#[derive(Clone)]
pub struct Ingestor {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestor")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Ingestor {
    /// Starts the writer task (on the current tokio runtime). It commits batches of at most
    /// `max_batch` notifications (at least one), stamping each commit with `clock`'s time.
    pub fn spawn(log: Arc<dyn NotificationLog>, clock: Clock, max_batch: usize) -> Ingestor {
        let max_batch = max_batch.max(1);
        let (sender, receiver) = mpsc::channel(max_batch.saturating_mul(2));
        let counters = Arc::new(Counters::default());
        let writer = tokio::spawn(write_batches(
            log,
            clock,
            max_batch,
            receiver,
            counters.clone(),
        ));
        Ingestor {
            shared: Arc::new(Shared {
                sender: Mutex::new(Some(sender)),
                writer: tokio::sync::Mutex::new(Some(writer)),
                counters,
            }),
        }
    }

    /// Stores a notification durably: returns once the batch holding it committed.
    pub async fn submit(
        &self,
        notification: IncomingNotification,
    ) -> Result<IngestOutcome, IngestError> {
        let sender = self
            .shared
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(IngestError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Submission {
                notification,
                reply,
            })
            .await
            .map_err(|_| IngestError::Closed)?;
        drop(sender);
        answer.await.map_err(|_| IngestError::Closed)?
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> IngestStats {
        let counters = &self.shared.counters;
        IngestStats {
            batches: counters.batches.load(Ordering::Relaxed),
            notifications: counters.notifications.load(Ordering::Relaxed),
            failed_batches: counters.failed_batches.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting (later submissions, from any clone, fail with [`IngestError::Closed`]),
    /// commits everything already queued, and waits for the writer to finish. Concurrent calls
    /// all wait for the same writer.
    pub async fn close(self) {
        self.shared
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut writer = self.shared.writer.lock().await;
        if let Some(handle) = writer.take()
            && let Err(error) = handle.await
        {
            tracing::error!(error = %crate::cause::Chain(&error), "The ingest writer stopped abnormally.");
        }
    }
}

/// The writer: commits batches until every sender is gone and the queue is empty.
async fn write_batches(
    log: Arc<dyn NotificationLog>,
    clock: Clock,
    max_batch: usize,
    mut receiver: mpsc::Receiver<Submission>,
    counters: Arc<Counters>,
) {
    let mut queued = Vec::with_capacity(max_batch);
    while receiver.recv_many(&mut queued, max_batch).await > 0 {
        let (batch, replies): (Vec<IncomingNotification>, Vec<Reply>) = queued
            .drain(..)
            .map(|submission| (submission.notification, submission.reply))
            .unzip();
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters
            .notifications
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let result = log.ingest(&batch, clock.now()).await.and_then(|outcomes| {
            if outcomes.len() == batch.len() {
                Ok(outcomes)
            } else {
                Err(StoreError::Corrupt(format!(
                    "the store answered {} outcomes for a batch of {}",
                    outcomes.len(),
                    batch.len()
                )))
            }
        });
        answer(replies, result, &counters);
    }
}

/// The index of the first copy of each notification id in `batch`, in arrival order (the later
/// copies of an id in one batch are `Duplicate` without reaching the database).
pub(crate) fn first_copies(batch: &[IncomingNotification]) -> Vec<usize> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(batch.len());
    (0..batch.len())
        .filter(|&index| seen.insert(batch[index].id.as_str()))
        .collect()
}

/// Answers every waiter of a batch (a waiter that gave up is skipped).
fn answer(
    replies: Vec<Reply>,
    result: Result<Vec<IngestOutcome>, StoreError>,
    counters: &Counters,
) {
    match result {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(error) => {
            counters.failed_batches.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                error = %crate::cause::Chain(&error),
                batch = replies.len(),
                "A batch of notifications could not be stored."
            );
            let error = IngestError::from_store(error);
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
