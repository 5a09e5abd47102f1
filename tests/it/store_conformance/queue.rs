//! Views of the queue: when work is next due, and counts.

use calsync::store::{GrantStatus, JobStats, RetryPlan};

use super::{Backend, LEASE, at, upsert};

pub async fn next_due_at_follows_schedules_and_leases(backend: Backend) {
    let store = &backend.store;
    assert_eq!(store.next_due_at().await.unwrap(), None);

    store.enqueue(&[upsert("e1", 1)], at(100)).await.unwrap();
    store.enqueue(&[upsert("e2", 1)], at(200)).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(100)));

    // A leased job is next due when its lease expires.
    let claimed = store
        .claim_key("e1", "w1", at(150), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(200)));
    store
        .extend_lease(&claimed.lease, at(100), LEASE)
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(160)));

    // A retry scheduled later moves it.
    let plan = RetryPlan {
        at: at(500),
        error: "boom".into(),
        count_attempt: true,
    };
    store.retry(&claimed.lease, &plan, at(101)).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(200)));

    // Jobs of a paused grant cannot be claimed, so they are never due.
    store
        .set_grant_status("grant-1", &GrantStatus::Paused { since: at(300) }, at(300))
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), None);
    store
        .set_grant_status("grant-1", &GrantStatus::Active, at(301))
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(200)));
}

pub async fn job_stats_count_each_state(backend: Backend) {
    let store = &backend.store;
    assert_eq!(store.job_stats(at(0)).await.unwrap(), JobStats::default());

    store
        .enqueue(
            &[
                upsert("a", 1),
                upsert("b", 1),
                upsert("c", 1),
                upsert("d", 1),
            ],
            at(0),
        )
        .await
        .unwrap();
    store.enqueue(&[upsert("e", 1)], at(5)).await.unwrap();
    let mut claimed = store.claim("w1", at(10), LEASE, 3).await.unwrap();
    let dead = claimed.pop().unwrap();
    let failed = claimed.pop().unwrap();
    let plan = RetryPlan {
        at: at(1000),
        error: "boom".into(),
        count_attempt: true,
    };
    store.retry(&failed.lease, &plan, at(11)).await.unwrap();
    store
        .dead_letter(&dead.lease, "gone", at(11))
        .await
        .unwrap();
    // Now: one in flight (claimed[0]), one retrying, one dead, `d` and `e` pending.

    let stats = store.job_stats(at(12)).await.unwrap();
    assert_eq!(
        stats,
        JobStats {
            pending: 2,
            in_flight: 1,
            retrying: 1,
            dead: 1,
            oldest_pending: Some(at(0)),
        }
    );

    // A lease that expired is no longer in flight; the job counts as pending again.
    let expired = store.job_stats(at(10 + 61)).await.unwrap();
    assert_eq!((expired.pending, expired.in_flight), (3, 0));

    // A failure that does not count an attempt is still a failure.
    let pending = store
        .claim_key("e", "w1", at(12), LEASE)
        .await
        .unwrap()
        .unwrap();
    let outage = RetryPlan {
        at: at(100),
        error: "CRM down".into(),
        count_attempt: false,
    };
    store.retry(&pending.lease, &outage, at(13)).await.unwrap();
    let stats = store.job_stats(at(14)).await.unwrap();
    assert_eq!((stats.pending, stats.retrying), (1, 2));
}
