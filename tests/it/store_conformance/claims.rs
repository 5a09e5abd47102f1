//! Claims: due jobs only, leases exclusive until expiry, and the ends of a claim.

use std::time::Duration;

use calsync::store::{Completion, RetryPlan};

use super::{Backend, LEASE, at, upsert};

fn keys(claimed: &[calsync::store::ClaimedJob]) -> Vec<&str> {
    claimed
        .iter()
        .map(|c| c.request.record_key.as_str())
        .collect()
}

pub async fn claims_due_jobs_oldest_first_up_to_limit(backend: Backend) {
    let store = &backend.store;
    // Enqueued at t, a job is due at t.
    store.enqueue(&[upsert("b", 1)], at(1)).await.unwrap();
    store.enqueue(&[upsert("a", 1)], at(0)).await.unwrap();
    store.enqueue(&[upsert("c", 1)], at(2)).await.unwrap();

    let claimed = store.claim("w1", at(1), LEASE, 10).await.unwrap();
    assert_eq!(keys(&claimed), ["a", "b"]);
    let claimed = store.claim("w1", at(5), LEASE, 1).await.unwrap();
    assert_eq!(keys(&claimed), ["c"]);
    assert!(
        store
            .claim("w1", at(5), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn leased_job_is_exclusive_until_expiry(backend: Backend) {
    let store = &backend.store;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let first = store.claim("w1", at(0), LEASE, 10).await.unwrap();
    assert_eq!(first.len(), 1);

    assert!(
        store
            .claim("w2", at(30), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .claim_key(&"e1".into(), "w2", at(30), LEASE)
            .await
            .unwrap(),
        None
    );

    // The holder crashed: after expiry another worker takes it, with a new token.
    let second = store.claim("w2", at(61), LEASE, 10).await.unwrap();
    assert_eq!(keys(&second), ["e1"]);
    assert_ne!(second[0].lease.token, first[0].lease.token);
    assert_eq!(second[0].lease.generation, first[0].lease.generation);
    assert!(
        store
            .claim("w3", at(62), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn lost_lease_changes_nothing(backend: Backend) {
    let store = &backend.store;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let old = store.claim("w1", at(0), LEASE, 10).await.unwrap().remove(0);
    let new = store
        .claim("w2", at(61), LEASE, 10)
        .await
        .unwrap()
        .remove(0);

    // The old holder's late calls must neither finish nor reschedule the new holder's job.
    assert!(!store.extend_lease(&old.lease, at(62), LEASE).await.unwrap());
    assert_eq!(
        store.complete(&old.lease, at(62)).await.unwrap(),
        Completion::Finished
    );
    let plan = RetryPlan {
        at: at(9999),
        error: "late".into(),
        count_attempt: true,
    };
    assert_eq!(
        store.retry(&old.lease, &plan, at(62)).await.unwrap(),
        Completion::Finished
    );
    assert_eq!(
        store.dead_letter(&old.lease, "late", at(62)).await.unwrap(),
        None
    );
    store.release(&old.lease, at(62)).await.unwrap();

    let stats = store.job_stats(at(62)).await.unwrap();
    assert_eq!((stats.in_flight, stats.dead), (1, 0));
    assert!(
        store
            .claim("w3", at(63), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The new holder still owns the job, untouched.
    assert!(store.extend_lease(&new.lease, at(63), LEASE).await.unwrap());
    assert_eq!(
        store.complete(&new.lease, at(64)).await.unwrap(),
        Completion::Finished
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
}

pub async fn claim_key_ignores_schedule_not_leases(backend: Backend) {
    let store = &backend.store;
    assert_eq!(
        store
            .claim_key(&"nope".into(), "w1", at(0), LEASE)
            .await
            .unwrap(),
        None
    );
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let claimed = store.claim("w1", at(0), LEASE, 10).await.unwrap().remove(0);
    let plan = RetryPlan {
        at: at(3600),
        error: "timeout".into(),
        count_attempt: true,
    };
    store.retry(&claimed.lease, &plan, at(1)).await.unwrap();
    assert!(
        store
            .claim("w1", at(2), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let by_key = store
        .claim_key(&"e1".into(), "w2", at(2), LEASE)
        .await
        .unwrap();
    let by_key = by_key.expect("claimable by key before it is due");
    assert_eq!(by_key.request.record_key, "e1");
    assert_eq!(by_key.attempts, 1);
    assert_eq!(by_key.last_error.as_deref(), Some("timeout"));
    assert_eq!(
        store
            .claim_key(&"e1".into(), "w3", at(3), LEASE)
            .await
            .unwrap(),
        None
    );
}

pub async fn extend_lease_keeps_the_job(backend: Backend) {
    let store = &backend.store;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let claimed = store.claim("w1", at(0), LEASE, 10).await.unwrap().remove(0);

    assert!(
        store
            .extend_lease(&claimed.lease, at(50), LEASE)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim("w2", at(100), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(110)));
    assert_eq!(
        keys(&store.claim("w2", at(111), LEASE, 10).await.unwrap()),
        ["e1"]
    );
}

pub async fn retry_reschedules_and_counts_attempts(backend: Backend) {
    let store = &backend.store;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let claimed = store.claim("w1", at(0), LEASE, 10).await.unwrap().remove(0);
    let plan = RetryPlan {
        at: at(10),
        error: "CRM answered 500".into(),
        count_attempt: true,
    };
    assert_eq!(
        store.retry(&claimed.lease, &plan, at(1)).await.unwrap(),
        Completion::Finished
    );
    assert!(
        store
            .claim("w1", at(9), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(10)));

    let again = store
        .claim("w1", at(10), LEASE, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(again.attempts, 1);
    assert_eq!(again.last_error.as_deref(), Some("CRM answered 500"));

    // A target-wide failure does not count against the job.
    let outage = RetryPlan {
        at: at(20),
        error: "CRM throttled".into(),
        count_attempt: false,
    };
    store.retry(&again.lease, &outage, at(11)).await.unwrap();
    let third = store
        .claim("w1", at(20), LEASE, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(third.attempts, 1);
    assert_eq!(third.last_error.as_deref(), Some("CRM throttled"));
    assert_eq!(third.enqueued_at, at(0));
}

pub async fn release_makes_job_due_without_an_attempt(backend: Backend) {
    let store = &backend.store;
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    let claimed = store.claim("w1", at(0), LEASE, 10).await.unwrap().remove(0);
    store.release(&claimed.lease, at(5)).await.unwrap();

    assert_eq!(store.next_due_at().await.unwrap(), Some(at(0)));
    let again = store.claim("w2", at(5), LEASE, 10).await.unwrap();
    assert_eq!(keys(&again), ["e1"]);
    assert_eq!(again[0].attempts, 0);
    assert_eq!(again[0].last_error, None);
}

pub async fn complete_removes_the_job(backend: Backend) {
    let store = &backend.store;
    store
        .enqueue(&[upsert("e1", 1), upsert("e2", 1)], at(0))
        .await
        .unwrap();
    let claimed = store
        .claim("w1", at(0), Duration::from_secs(5), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(
        store.complete(&claimed[0].lease, at(1)).await.unwrap(),
        Completion::Finished
    );
    // Even after its lease expired, the completed job does not come back.
    let later = store.claim("w1", at(100), LEASE, 10).await.unwrap();
    assert_eq!(keys(&later), [claimed[1].request.record_key.as_str()]);
}
