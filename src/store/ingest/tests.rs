//! Tests of group commit against a real SQLite store, seen through a wrapper that counts (and
//! can fail) `ingest` calls.

use std::sync::atomic::{AtomicBool, AtomicUsize};

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::task::JoinSet;

use super::*;
use crate::store::sqlite::SqliteStore;
use crate::store::{NotificationFilter, StoredNotification};

/// Delegates to a real store's notification log; counts `ingest` calls and fails the next one on
/// request.
struct Observed {
    inner: SqliteStore,
    ingest_calls: AtomicUsize,
    largest_batch: AtomicUsize,
    fail_next: AtomicBool,
}

#[async_trait]
impl NotificationLog for Observed {
    async fn ingest(
        &self,
        batch: &[IncomingNotification],
        now: Timestamp,
    ) -> Result<Vec<IngestOutcome>, StoreError> {
        self.ingest_calls.fetch_add(1, Ordering::SeqCst);
        self.largest_batch.fetch_max(batch.len(), Ordering::SeqCst);
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut));
        }
        self.inner.ingest(batch, now).await
    }

    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        self.inner.list_notifications(filter).await
    }

    async fn prune_notifications(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.inner.prune_notifications(before).await
    }
}

async fn observed_store() -> (Arc<Observed>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ingest.db").display());
    let store = Arc::new(Observed {
        inner: SqliteStore::open(&url).await.unwrap(),
        ingest_calls: AtomicUsize::new(0),
        largest_batch: AtomicUsize::new(0),
        fail_next: AtomicBool::new(false),
    });
    (store, dir)
}

fn notification(id: &str) -> IncomingNotification {
    IncomingNotification {
        id: id.into(),
        trigger: "event.updated".into(),
        grant_id: Some("grant-1".into()),
        event_id: Some(format!("event-{id}").into()),
        received_at: Timestamp::from_second(1_780_000_000).unwrap(),
        body: br#"{"type":"event.updated"}"#.to_vec(),
        job: None,
        grant_change: None,
    }
}

async fn submit_all(
    ingestor: &Ingestor,
    ids: Vec<String>,
) -> Vec<Result<IngestOutcome, IngestError>> {
    let mut tasks = JoinSet::new();
    for id in ids {
        let ingestor = ingestor.clone();
        tasks.spawn(async move { ingestor.submit(notification(&id)).await });
    }
    tasks.join_all().await
}

#[tokio::test]
async fn concurrent_submits_share_commits() {
    let (store, _dir) = observed_store().await;
    let ingestor = Ingestor::spawn(store.clone(), Clock::System, 16);
    let ids: Vec<String> = (0..64).map(|n| format!("n{n}")).collect();

    let outcomes = submit_all(&ingestor, ids).await;

    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Ok(IngestOutcome::Accepted)))
    );
    let calls = store.ingest_calls.load(Ordering::SeqCst);
    assert!(calls < 64, "64 submits took {calls} commits");
    assert!(calls >= 4, "batches are capped at 16");
    assert!(store.largest_batch.load(Ordering::SeqCst) <= 16);
    let stats = ingestor.stats();
    assert_eq!(stats.batches, calls as u64);
    assert_eq!(stats.notifications, 64);
    let stored = store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    assert_eq!(stored.len(), 64);
}

#[tokio::test]
async fn each_waiter_gets_its_own_outcome() {
    let (store, _dir) = observed_store().await;
    let ingestor = Ingestor::spawn(store.clone(), Clock::System, 8);
    let ids = vec!["same".to_string(), "same".to_string(), "other".to_string()];

    let outcomes = submit_all(&ingestor, ids).await;

    let accepted = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(IngestOutcome::Accepted)))
        .count();
    let duplicate = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(IngestOutcome::Duplicate)))
        .count();
    assert_eq!((accepted, duplicate), (2, 1));
    assert_eq!(
        ingestor.submit(notification("other")).await.unwrap(),
        IngestOutcome::Duplicate
    );
}

#[tokio::test]
async fn a_failed_commit_fails_its_batch_and_the_writer_carries_on() {
    let (store, _dir) = observed_store().await;
    let ingestor = Ingestor::spawn(store.clone(), Clock::System, 8);
    store.fail_next.store(true, Ordering::SeqCst);

    let ids = vec!["a".to_string(), "b".to_string()];
    let outcomes = submit_all(&ingestor, ids.clone()).await;
    let calls_so_far = store.ingest_calls.load(Ordering::SeqCst);

    // The first commit failed: whatever was in it got the error and none of it was stored.
    let failed: Vec<&String> = ids
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| matches!(outcome, Err(IngestError::Unavailable(_))))
        .map(|(id, _)| id)
        .collect();
    assert!(!failed.is_empty());
    assert_eq!(ingestor.stats().failed_batches, 1);
    let stored = store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    assert_eq!(stored.len(), ids.len() - failed.len());
    assert!(
        stored
            .iter()
            .all(|n| failed.iter().all(|id| n.id != id.as_str()))
    );

    // The writer is still running: a redelivery of a failed notification is stored.
    assert_eq!(
        ingestor.submit(notification(failed[0])).await.unwrap(),
        IngestOutcome::Accepted
    );
    assert_eq!(store.ingest_calls.load(Ordering::SeqCst), calls_so_far + 1);
}

#[tokio::test]
async fn close_flushes_what_is_queued_then_refuses() {
    let (store, _dir) = observed_store().await;
    let ingestor = Ingestor::spawn(store.clone(), Clock::System, 4);
    let mut pending = JoinSet::new();
    for n in 0..10 {
        let ingestor = ingestor.clone();
        pending.spawn(async move { ingestor.submit(notification(&format!("q{n}"))).await });
    }
    // `yield_now` resumes this test only after every ready task ran: each submission is then in
    // the queue or waiting for room in it, holding its own sender.
    tokio::task::yield_now().await;
    let late = ingestor.clone();

    ingestor.close().await;

    let outcomes = pending.join_all().await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Ok(IngestOutcome::Accepted)))
    );
    assert!(matches!(
        late.submit(notification("late")).await,
        Err(IngestError::Closed)
    ));
    let stored = store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    assert_eq!(stored.len(), 10);
    late.close().await;
}
