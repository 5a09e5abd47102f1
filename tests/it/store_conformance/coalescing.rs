//! Coalescing: one job per record key; newer content replaces older, also while in flight.

use calsync::store::{Completion, JobAction, RetryPlan};

use super::{Backend, LEASE, at, delete, notification, upsert};

pub async fn pending_job_is_replaced(backend: Backend) {
    let store = &backend.store;
    store
        .ingest(&[notification("n1", Some(upsert("e1", 1)))], at(0))
        .await
        .unwrap();
    let newer = upsert("e1", 2);
    store
        .ingest(&[notification("n2", Some(newer.clone()))], at(1))
        .await
        .unwrap();

    let claimed = store.claim("w1", at(1), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "one job per key");
    assert_eq!(claimed[0].request, newer);
    assert_eq!(
        claimed[0].enqueued_at,
        at(0),
        "the row keeps its creation time"
    );

    // A request without a version replaces a versioned one (it may be newer).
    store.complete(&claimed[0].lease, at(2)).await.unwrap();
    store.enqueue(&[upsert("e1", 5)], at(3)).await.unwrap();
    let mut unversioned = upsert("e1", 0);
    unversioned.version = None;
    store.enqueue(&[unversioned.clone()], at(3)).await.unwrap();
    let claimed = store.claim("w1", at(3), LEASE, 10).await.unwrap();
    assert_eq!(claimed[0].request, unversioned);
}

pub async fn stale_upsert_is_dropped(backend: Backend) {
    let store = &backend.store;
    let current = upsert("e1", 5);
    store
        .enqueue(std::slice::from_ref(&current), at(0))
        .await
        .unwrap();
    store.enqueue(&[upsert("e1", 3)], at(1)).await.unwrap();
    store
        .ingest(&[notification("n-old", Some(upsert("e1", 4)))], at(2))
        .await
        .unwrap();

    let claimed = store.claim("w1", at(2), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].request, current);
}

pub async fn upsert_over_delete_forces_fetch(backend: Backend) {
    let store = &backend.store;
    store.enqueue(&[delete("e1")], at(0)).await.unwrap();
    let late = upsert("e1", 3);
    assert!(!late.force_fetch);
    store
        .enqueue(std::slice::from_ref(&late), at(1))
        .await
        .unwrap();

    let claimed = store.claim("w1", at(1), LEASE, 10).await.unwrap();
    assert_eq!(claimed[0].request.action, JobAction::Upsert);
    assert_eq!(claimed[0].request.payload, late.payload);
    assert!(
        claimed[0].request.force_fetch,
        "resurrection needs the Events API"
    );
    store.release(&claimed[0].lease, at(2)).await.unwrap();

    // A further upsert does not wash the reason to fetch away.
    store.enqueue(&[upsert("e1", 4)], at(3)).await.unwrap();
    let claimed = store.claim("w1", at(3), LEASE, 10).await.unwrap();
    assert_eq!(claimed[0].request.version, Some(4));
    assert!(claimed[0].request.force_fetch);
}

pub async fn delete_replaces_pending_upsert(backend: Backend) {
    let store = &backend.store;
    store.enqueue(&[upsert("e1", 7)], at(0)).await.unwrap();
    store.enqueue(&[delete("e1")], at(1)).await.unwrap();

    let claimed = store.claim("w1", at(1), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].request, delete("e1"));
}

pub async fn change_in_flight_requeues_on_complete(backend: Backend) {
    let store = &backend.store;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let first = store.claim("w1", at(0), LEASE, 10).await.unwrap().remove(0);

    let newer = upsert("e1", 2);
    store
        .ingest(&[notification("n2", Some(newer.clone()))], at(1))
        .await
        .unwrap();
    assert!(
        store
            .claim("w2", at(2), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "still one job in flight per key"
    );

    assert_eq!(
        store.complete(&first.lease, at(3)).await.unwrap(),
        Completion::Requeued
    );
    let second = store.claim("w2", at(3), LEASE, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].request, newer);
    assert_ne!(second[0].lease.generation, first.lease.generation);
    assert_ne!(second[0].lease.token, first.lease.token);
    assert_eq!(
        store.complete(&second[0].lease, at(4)).await.unwrap(),
        Completion::Finished
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
}

pub async fn change_in_flight_releases_on_retry(backend: Backend) {
    let store = &backend.store;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let first = store.claim("w1", at(0), LEASE, 10).await.unwrap().remove(0);
    store.enqueue(&[upsert("e1", 2)], at(1)).await.unwrap();

    let plan = RetryPlan {
        at: at(3600),
        error: "CRM answered 503".into(),
        count_attempt: true,
    };
    assert_eq!(
        store.retry(&first.lease, &plan, at(2)).await.unwrap(),
        Completion::Requeued
    );
    // The new content runs at once, not at the old content's retry time, with a clean record.
    let second = store.claim("w1", at(2), LEASE, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].request.version, Some(2));
    assert_eq!(second[0].attempts, 0);
    assert_eq!(second[0].last_error, None);
}

pub async fn change_in_flight_releases_on_dead_letter(backend: Backend) {
    let store = &backend.store;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let first = store.claim("w1", at(0), LEASE, 10).await.unwrap().remove(0);
    store.enqueue(&[upsert("e1", 2)], at(1)).await.unwrap();

    let id = store
        .dead_letter(&first.lease, "CRM rejected the record", at(2))
        .await
        .unwrap();
    assert_eq!(id, None);
    assert!(store.list_dead_letters(10).await.unwrap().is_empty());
    let second = store.claim("w1", at(2), LEASE, 10).await.unwrap();
    assert_eq!(second[0].request.version, Some(2));
}

pub async fn stale_upsert_in_flight_is_dropped(backend: Backend) {
    let store = &backend.store;
    store.enqueue(&[upsert("e1", 5)], at(0)).await.unwrap();
    let claimed = store.claim("w1", at(0), LEASE, 10).await.unwrap().remove(0);
    store.enqueue(&[upsert("e1", 4)], at(1)).await.unwrap();

    assert_eq!(
        store.complete(&claimed.lease, at(2)).await.unwrap(),
        Completion::Finished
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
}
