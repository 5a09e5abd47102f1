//! Group commit at the adapter edge: [`Batcher`] lets many concurrent jobs each submit one item
//! and await its own outcome, while one background task gathers the items into vendor batch
//! requests (HubSpot `batch/upsert`, `batch/archive`; Salesforce sObject Collections).
//!
//! How a batch forms: the first item opens a batch; items arriving within
//! [`BatchSettings::linger`] join it; it is sent at the end of the linger, or at once when it
//! holds [`BatchSettings::max_items`]. A zero linger takes only the items already queued (no
//! timer: also what tests whose clock moves only when they advance it use). Batches are sent concurrently (a slow answer never holds
//! back the next batch), each by [`BatchWrite::write`], which answers every item separately.
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
//! - nothing here knows about jobs, leases or the sync state: the worker's write path is the same
//!   as for an unbatched adapter, so its version, hash and tombstone rules hold unchanged.
//!
//! Time is tokio's, so tests drive the linger with paused time.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::CrmError;

/// How batches form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// How long the first item of a batch waits for others to join it.
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
}

/// Gathers items into batches for one writer; see the module documentation.
pub struct Batcher<W: BatchWrite> {
    writer: Arc<W>,
    settings: BatchSettings,
    operation: &'static str,
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
            queue: OnceLock::new(),
        }
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
                self.operation,
            ));
            sender
        });
        if queue.send(Pending { item, answer }).is_err() {
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
    operation: &'static str,
) {
    let mut deferred: VecDeque<Pending<W>> = VecDeque::new();
    let mut open = true;
    loop {
        let first = match deferred.pop_front() {
            Some(pending) => pending,
            None if !open => return,
            None => match queue.recv().await {
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
                tokio::select! {
                    biased;
                    next = queue.recv() => next,
                    () = tokio::time::sleep_until(deadline) => break,
                }
            };
            match next {
                Some(pending) if holds_key(&batch, &pending) => deferred.push_back(pending),
                Some(pending) => batch.push(pending),
                None => open = false,
            }
        }
        tokio::spawn(send(writer.clone(), batch, operation));
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
        .map(|pending| (pending.item, pending.answer))
        .unzip();
    if items.is_empty() {
        return;
    }
    tracing::debug!(operation, items = items.len(), "Sending a CRM batch.");
    let mut results = writer.write(items).await.into_iter();
    for answer in answers {
        let result = results.next().unwrap_or_else(|| Err(lost(operation)));
        // The caller may have stopped waiting meanwhile; its job runs again.
        let _ = answer.send(result);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::retry::Retry;

    /// Records every batch; fails the items named "bad", or the whole batch when told.
    #[derive(Default)]
    struct Recorder {
        batches: Mutex<Vec<Vec<String>>>,
        fail_all: Mutex<bool>,
    }

    #[async_trait]
    impl BatchWrite for Arc<Recorder> {
        type Item = String;
        type Output = String;

        fn key(item: &String) -> &str {
            item
        }

        async fn write(&self, items: Vec<String>) -> Vec<Result<String, CrmError>> {
            self.batches.lock().unwrap().push(items.clone());
            let fail_all = *self.fail_all.lock().unwrap();
            let error = |status| CrmError::Status {
                operation: "test",
                status,
                message: String::new(),
                retry: crate::retry::classify_status(status, None),
            };
            items
                .into_iter()
                .map(|item| match item.as_str() {
                    _ if fail_all => Err(error(503)),
                    "bad" => Err(error(400)),
                    _ => Ok(format!("id-{item}")),
                })
                .collect()
        }
    }

    fn batcher(recorder: &Arc<Recorder>, max_items: usize) -> Arc<Batcher<Arc<Recorder>>> {
        let settings = BatchSettings {
            linger: Duration::from_millis(25),
            max_items,
        };
        Arc::new(Batcher::new(recorder.clone(), settings, "test"))
    }

    async fn submit_all(
        batcher: &Arc<Batcher<Arc<Recorder>>>,
        items: &[&str],
    ) -> Vec<Result<String, CrmError>> {
        let mut tasks = Vec::new();
        for item in items {
            let batcher = batcher.clone();
            let item = item.to_string();
            tasks.push(tokio::spawn(async move { batcher.submit(item).await }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_items_share_one_request_and_get_their_own_answers() {
        let recorder = Arc::new(Recorder::default());
        let batcher = batcher(&recorder, 100);
        let results = submit_all(&batcher, &["a", "bad", "c"]).await;
        assert_eq!(recorder.batches.lock().unwrap().len(), 1);
        assert_eq!(results[0].as_ref().unwrap(), "id-a");
        assert!(matches!(
            results[1],
            Err(CrmError::Status { status: 400, .. })
        ));
        assert_eq!(results[1].as_ref().unwrap_err().retry(), Retry::Permanent);
        assert_eq!(results[2].as_ref().unwrap(), "id-c");
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_batch_goes_at_once_and_the_rest_forms_the_next() {
        let recorder = Arc::new(Recorder::default());
        let batcher = batcher(&recorder, 2);
        let results = submit_all(&batcher, &["a", "b", "c", "d", "e"]).await;
        assert!(results.iter().all(Result::is_ok));
        let sizes: Vec<usize> = recorder
            .batches
            .lock()
            .unwrap()
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, vec![2, 2, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn one_record_never_appears_twice_in_a_batch() {
        let recorder = Arc::new(Recorder::default());
        let batcher = batcher(&recorder, 100);
        let results = submit_all(&batcher, &["a", "a", "b"]).await;
        assert!(results.iter().all(Result::is_ok));
        let batches = recorder.batches.lock().unwrap().clone();
        assert_eq!(
            batches,
            vec![vec!["a".to_owned(), "b".to_owned()], vec!["a".to_owned()]]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_request_fails_every_item_with_its_classification() {
        let recorder = Arc::new(Recorder::default());
        *recorder.fail_all.lock().unwrap() = true;
        let batcher = batcher(&recorder, 100);
        let results = submit_all(&batcher, &["a", "b"]).await;
        assert_eq!(recorder.batches.lock().unwrap().len(), 1);
        for result in results {
            assert_eq!(result.unwrap_err().retry(), Retry::After(None));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn items_after_the_linger_form_a_new_batch() {
        let recorder = Arc::new(Recorder::default());
        let batcher = batcher(&recorder, 100);
        assert_eq!(batcher.submit("a".into()).await.unwrap(), "id-a");
        assert_eq!(batcher.submit("b".into()).await.unwrap(), "id-b");
        assert_eq!(recorder.batches.lock().unwrap().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_item_nobody_waits_for_is_not_sent() {
        let recorder = Arc::new(Recorder::default());
        let batcher = batcher(&recorder, 100);
        let abandoned = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.submit("gone".into()).await }
        });
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        abandoned.abort();
        assert_eq!(batcher.submit("kept".into()).await.unwrap(), "id-kept");
        assert_eq!(
            recorder.batches.lock().unwrap().clone(),
            vec![vec!["kept".to_owned()]]
        );
    }
}
