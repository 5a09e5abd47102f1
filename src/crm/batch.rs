//! Group commit at the adapter edge: [`Batcher`] lets many concurrent jobs each submit one item
//! and await its own outcome, while one background task gathers the items into vendor batch
//! requests (HubSpot `batch/upsert`, `batch/archive`; Salesforce sObject Collections).
//!
//! How a batch forms: the first item opens a batch; items arriving within
//! [`BatchSettings::linger`] join it; it is sent at the end of the linger, at once when it
//! holds [`BatchSettings::max_items`], or as soon as its [`BatchGate`] says no running job can
//! still join it (module `gate`: a lone change goes at once, a burst's jobs fill the batch as
//! they arrive). A zero linger takes only the items already queued (no timer: also what tests
//! whose clock moves only when they advance it use). Batches are sent concurrently (a slow
//! answer never holds back the next batch), each by [`BatchWrite::write`], which answers every
//! item separately.
//!
//! Invariants:
//! - every submitted item gets exactly one answer: its own outcome, or a classified
//!   [`CrmError`] (a failure of the whole request reaches every item with the same
//!   classification, so each job retries on its own schedule); an item whose answer is lost (the
//!   writer panicked, the batcher was dropped) gets a retried [`CrmError::Protocol`];
//! - one batch never holds two items with the same [`BatchWrite::key`] (a vendor refuses a
//!   batch naming one record twice): the later one waits for the next batch;
//! - an item whose caller stopped waiting (a job cancelled at shutdown) before its batch is sent
//!   is left out: its job runs again later, so nothing is lost and nothing is written for it;
//! - nothing here knows about leases or the sync state, and of jobs only how many run (the
//!   gate's counts, kept by guards their runner holds): the worker's write path is the same as
//!   for an unbatched adapter, so its version, hash and tombstone rules hold unchanged;
//! - the gate only ever sends a batch sooner: the linger stays the bound, so a miscounted job
//!   can delay a batch by at most the linger, never hold it forever.
//!
//! Time is tokio's, so tests drive the linger with paused time.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::CrmError;

mod gate;

use gate::WaitingItem;
pub use gate::{BatchGate, Parked, RunningJob};

/// How batches form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// The longest the first item of a batch waits for others to join it (less when the gate
    /// says every running job is in).
    pub linger: Duration,
    /// The most items one request carries (the vendor's maximum or less); at least 1.
    pub max_items: usize,
}

/// Sends one batch request for a vendor.
#[async_trait]
pub trait BatchWrite: Send + Sync + 'static {
    /// One job's part of a batch.
    type Item: Send + 'static;
    /// One item's success.
    type Output: Send + 'static;

    /// What names the item's record: two items with the same key never share a batch.
    fn key(item: &Self::Item) -> &str;

    /// Writes `items` in one request (or as few as the vendor allows) and answers each, in the
    /// order given. An answer missing from the end counts as a retried protocol error.
    async fn write(&self, items: Vec<Self::Item>) -> Vec<Result<Self::Output, CrmError>>;
}

/// A submitted item and where its answer goes.
struct Pending<W: BatchWrite> {
    item: W::Item,
    answer: oneshot::Sender<Result<W::Output, CrmError>>,
    /// Counts the item in the gate from its receipt until it is answered or dropped.
    waiting: Option<WaitingItem>,
}

/// Gathers items into batches for one writer; see the module documentation.
pub struct Batcher<W: BatchWrite> {
    writer: Arc<W>,
    settings: BatchSettings,
    operation: &'static str,
    /// Says when every running job is in; `None`: the linger alone decides.
    gate: Option<Arc<BatchGate>>,
    /// Started by the first submit (inside the runtime), ended when the batcher is dropped.
    queue: OnceLock<mpsc::UnboundedSender<Pending<W>>>,
}

impl<W: BatchWrite> Batcher<W> {
    /// A batcher sending through `writer`; `operation` names its failures in errors and logs.
    pub fn new(writer: W, settings: BatchSettings, operation: &'static str) -> Self {
        Batcher {
            writer: Arc::new(writer),
            settings: BatchSettings {
                linger: settings.linger,
                max_items: settings.max_items.max(1),
            },
            operation,
            gate: None,
            queue: OnceLock::new(),
        }
    }

    /// Sends a batch early once `gate` says no running job can still join it (shared by the
    /// adapter's batchers, and fed by whoever runs its jobs).
    pub fn gated(mut self, gate: Arc<BatchGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// How batches form.
    pub fn settings(&self) -> BatchSettings {
        self.settings
    }

    /// Submits one item and waits for its own answer.
    pub async fn submit(&self, item: W::Item) -> Result<W::Output, CrmError> {
        let (answer, answered) = oneshot::channel();
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(gather(
                receiver,
                self.writer.clone(),
                self.settings,
                self.gate.clone(),
                self.operation,
            ));
            sender
        });
        let pending = Pending {
            item,
            answer,
            waiting: None,
        };
        if queue.send(pending).is_err() {
            return Err(lost(self.operation));
        }
        answered.await.unwrap_or_else(|_| Err(lost(self.operation)))
    }
}

/// The error of an item whose answer never came: retried (the item may or may not have been
/// written; every batched write is idempotent, so writing it again is safe).
fn lost(operation: &'static str) -> CrmError {
    CrmError::Protocol {
        operation,
        message: "the batch ended without an answer for this item".to_owned(),
    }
}

/// The same failure for every item of a request (shared when there are several): how a
/// [`BatchWrite`] answers a request that failed as a whole.
pub fn all_fail<T>(count: usize, error: CrmError) -> Vec<Result<T, CrmError>> {
    if count == 1 {
        return vec![Err(error)];
    }
    let shared = Arc::new(error);
    (0..count)
        .map(|_| Err(CrmError::Shared(shared.clone())))
        .collect()
}

/// The answer to every item of a batch whose adapter is gone (only during shutdown: a
/// [`BatchWrite`] holds its adapter weakly, since the adapter owns the batcher). Retried.
pub fn adapter_gone<T>(count: usize, operation: &'static str) -> Vec<Result<T, CrmError>> {
    let error = CrmError::Protocol {
        operation,
        message: "the CRM adapter was shut down".to_owned(),
    };
    all_fail(count, error)
}

/// The background task: forms batches from `queue` until every sender is gone, and sends each
/// in its own task.
async fn gather<W: BatchWrite>(
    mut queue: mpsc::UnboundedReceiver<Pending<W>>,
    writer: Arc<W>,
    settings: BatchSettings,
    gate: Option<Arc<BatchGate>>,
    operation: &'static str,
) {
    let receive = |pending: Option<Pending<W>>| {
        pending.map(|mut pending| {
            pending.waiting = gate.as_ref().map(BatchGate::item_received);
            pending
        })
    };
    let mut deferred: VecDeque<Pending<W>> = VecDeque::new();
    let mut open = true;
    loop {
        let first = match deferred.pop_front() {
            Some(pending) => pending,
            None if !open => return,
            None => match receive(queue.recv().await) {
                Some(pending) => pending,
                None => return,
            },
        };
        let mut batch = vec![first];
        let mut waiting = VecDeque::new();
        while let Some(pending) = deferred.pop_front() {
            if batch.len() < settings.max_items && !holds_key(&batch, &pending) {
                batch.push(pending);
            } else {
                waiting.push_back(pending);
            }
        }
        deferred = waiting;
        let deadline = Instant::now() + settings.linger;
        while open && batch.len() < settings.max_items {
            let next = if settings.linger.is_zero() {
                match queue.try_recv() {
                    Ok(pending) => Some(pending),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            } else {
                // Items already in the channel first: their jobs count as on the way.
                tokio::select! {
                    biased;
                    next = queue.recv() => next,
                    () = all_arrived(gate.as_deref()) => break,
                    () = tokio::time::sleep_until(deadline) => break,
                }
            };
            let next = receive(next);
            match next {
                Some(pending) if holds_key(&batch, &pending) => deferred.push_back(pending),
                Some(pending) => batch.push(pending),
                None => open = false,
            }
        }
        tokio::spawn(send(writer.clone(), batch, operation));
    }
}

/// Resolves when `gate` says every running job is in; never without a gate.
async fn all_arrived(gate: Option<&BatchGate>) {
    match gate {
        Some(gate) => gate.all_arrived().await,
        None => std::future::pending().await,
    }
}

/// Whether `batch` already holds an item for `pending`'s record.
fn holds_key<W: BatchWrite>(batch: &[Pending<W>], pending: &Pending<W>) -> bool {
    let key = W::key(&pending.item);
    batch.iter().any(|held| W::key(&held.item) == key)
}

/// Sends one batch (leaving out items nobody waits for any more) and answers each item.
async fn send<W: BatchWrite>(writer: Arc<W>, batch: Vec<Pending<W>>, operation: &'static str) {
    let (items, answers): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .filter(|pending| !pending.answer.is_closed())
        .map(|pending| (pending.item, (pending.answer, pending.waiting)))
        .unzip();
    if items.is_empty() {
        return;
    }
    tracing::debug!(operation, items = items.len(), "Sending a CRM batch.");
    let mut results = writer.write(items).await.into_iter();
    for (answer, waiting) in answers {
        let result = results.next().unwrap_or_else(|| Err(lost(operation)));
        // The caller may have stopped waiting meanwhile; its job runs again.
        let _ = answer.send(result);
        drop(waiting);
    }
}

#[cfg(test)]
mod tests;
