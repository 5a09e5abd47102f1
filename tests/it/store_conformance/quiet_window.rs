//! Coalescing windows ([`QueuePolicy`]): a notified job is due once its event has been quiet for
//! the window, at most the maximum delay after the first notification of its burst; a claim
//! ends the burst; retries keep their own schedule; listings and operator retries do not wait.
//!
//! Each case reopens the backend's database with a 1s window and a 10s maximum delay.

use std::sync::Arc;
use std::time::Duration;

use calsync::store::{
    self, Completion, JobAction, JobRequest, JobSource, QueuePolicy, RetryPlan, Store,
};
use jiff::Timestamp;

use super::{Backend, LEASE, at, delete, notification, upsert};

const POLICY: QueuePolicy = QueuePolicy {
    coalesce_window: Duration::from_secs(1),
    coalesce_max_delay: Duration::from_secs(10),
};

/// The backend's database, opened again with [`POLICY`].
async fn coalescing(backend: &Backend) -> Arc<dyn Store> {
    store::open_with(&backend.url, POLICY)
        .await
        .expect("reopen with a coalescing policy")
}

/// `at(0)` plus `millis` milliseconds.
fn at_ms(millis: i64) -> Timestamp {
    at(0) + jiff::SignedDuration::from_millis(millis)
}

fn from(source: JobSource, job: JobRequest) -> JobRequest {
    JobRequest { source, ..job }
}

pub async fn a_burst_waits_for_a_quiet_window(backend: Backend) {
    let store = coalescing(&backend).await;
    // Three notifications 400 ms apart: the job is due one window after the last.
    for (index, millis) in [0, 400, 800].into_iter().enumerate() {
        let version = index as i64 + 1;
        let id = format!("n{version}");
        store
            .ingest(
                &[notification(&id, Some(upsert("e1", version)))],
                at_ms(millis),
            )
            .await
            .unwrap();
        assert_eq!(
            store.next_due_at().await.unwrap(),
            Some(at_ms(millis + 1_000))
        );
    }
    assert!(
        store
            .claim("w1", at_ms(1_799), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store.claim("w1", at_ms(1_800), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].request,
        upsert("e1", 3),
        "the newest content runs"
    );
    assert_eq!(claimed[0].enqueued_at, at(0));

    // `enqueue` follows the same rule as `ingest`.
    store.complete(&claimed[0].lease, at(2)).await.unwrap();
    store.enqueue(&[upsert("e2", 1)], at(3)).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(4)));
}

pub async fn a_never_quiet_burst_is_due_at_the_maximum_delay(backend: Backend) {
    let store = coalescing(&backend).await;
    // A change every 500 ms for 15 s: never quiet for a whole window.
    for step in 0..30 {
        store
            .enqueue(&[upsert("e1", step + 1)], at_ms(step * 500))
            .await
            .unwrap();
        let expected = at_ms((step * 500 + 1_000).min(10_000));
        assert_eq!(
            store.next_due_at().await.unwrap(),
            Some(expected),
            "step {step}"
        );
        let now = at_ms(step * 500);
        if now < at(10) {
            assert!(store.claim("w1", now, LEASE, 10).await.unwrap().is_empty());
        }
    }
    let claimed = store.claim("w1", at(15), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].request.version, Some(30));
}

pub async fn a_claim_ends_the_burst(backend: Backend) {
    let store = coalescing(&backend).await;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let first = store.claim("w1", at(1), LEASE, 10).await.unwrap().remove(0);
    // Arriving while the first content is written (long after the first burst's maximum delay):
    // a new burst, due one window later, not at once.
    store.enqueue(&[upsert("e1", 2)], at(20)).await.unwrap();
    assert_eq!(
        store.complete(&first.lease, at(20)).await.unwrap(),
        Completion::Requeued
    );
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(21)));
    assert!(
        store
            .claim("w1", at(20), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let second = store.claim("w1", at(21), LEASE, 10).await.unwrap();
    assert_eq!(second[0].request.version, Some(2));

    // The new burst is counted from its own first notification: 20 + 10 s at most.
    store.complete(&second[0].lease, at(21)).await.unwrap();
    store.enqueue(&[upsert("e1", 3)], at(30)).await.unwrap();
    store.enqueue(&[upsert("e1", 4)], at(39)).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(40)));
    store.enqueue(&[upsert("e1", 5)], at(40)).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(40)));
}

pub async fn a_retry_keeps_its_schedule(backend: Backend) {
    let store = coalescing(&backend).await;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let claimed = store.claim("w1", at(1), LEASE, 10).await.unwrap().remove(0);
    let plan = RetryPlan {
        at: at(61),
        error: "CRM answered 503".into(),
        count_attempt: true,
    };
    store.retry(&claimed.lease, &plan, at(1)).await.unwrap();
    assert_eq!(
        store.next_due_at().await.unwrap(),
        Some(at(61)),
        "no window added"
    );
    let again = store
        .claim("w1", at(61), LEASE, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(again.attempts, 1);

    // New content for a job waiting on a retry starts a new burst (not the old retry time).
    let plan = RetryPlan {
        at: at(3_600),
        ..plan
    };
    store.retry(&again.lease, &plan, at(61)).await.unwrap();
    store.enqueue(&[upsert("e1", 2)], at(100)).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(101)));
    let newer = store
        .claim("w1", at(101), LEASE, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((newer.request.version, newer.attempts), (Some(2), 0));

    // A release (shutdown) makes the job due at once, window or not.
    store.enqueue(&[upsert("e1", 3)], at(102)).await.unwrap();
    store.release(&newer.lease, at(102)).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(102)));
}

pub async fn deletes_coalesce_too(backend: Backend) {
    let store = coalescing(&backend).await;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    store.enqueue(&[delete("e1")], at(1)).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(2)));
    assert!(
        store
            .claim("w1", at(1), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store.claim("w1", at(2), LEASE, 10).await.unwrap();
    assert_eq!(claimed[0].request.action, JobAction::Delete);
}

pub async fn listings_and_operator_retries_do_not_wait(backend: Backend) {
    let store = coalescing(&backend).await;
    for (key, source) in [
        ("b", JobSource::Backfill),
        ("r", JobSource::Reconcile),
        ("d", JobSource::DeadLetterRetry),
    ] {
        store
            .enqueue(&[from(source, upsert(key, 1))], at(0))
            .await
            .unwrap();
    }
    let claimed = store.claim("w1", at(0), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 3, "due at once");

    // A listing replacing a pending burst makes it due at once; a replayed notification waits.
    store.enqueue(&[upsert("e1", 1)], at(10)).await.unwrap();
    store
        .enqueue(&[from(JobSource::Backfill, upsert("e1", 2))], at(10))
        .await
        .unwrap();
    assert_eq!(store.claim("w1", at(10), LEASE, 10).await.unwrap().len(), 1);
    store
        .enqueue(&[from(JobSource::Replay, upsert("e2", 1))], at(20))
        .await
        .unwrap();
    assert!(
        store
            .claim("w1", at(20), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.claim("w1", at(21), LEASE, 10).await.unwrap().len(), 1);
}

pub async fn a_dead_letter_retry_is_due_at_once(backend: Backend) {
    let store = coalescing(&backend).await;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let claimed = store.claim("w1", at(1), LEASE, 10).await.unwrap().remove(0);
    store
        .dead_letter(&claimed.lease, "rejected", at(1))
        .await
        .unwrap();
    let selection = calsync::store::DeadLetterSelection::All;
    assert_eq!(
        store.retry_dead_letters(&selection, at(5)).await.unwrap(),
        1
    );
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(5)));
}
