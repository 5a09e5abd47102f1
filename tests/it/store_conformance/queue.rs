//! Views of the queue: when work is next due, counts, one key's entry, and a read-only handle
//! on an existing store.

use calsync::store::{self, DeadLetterSelection, GrantStatus, JobStats, QueueEntry, RetryPlan};

use super::{Backend, LEASE, at, upsert};

pub async fn next_due_at_follows_schedules_and_leases(backend: Backend) {
    let store = &backend.store;
    assert_eq!(store.next_due_at().await.unwrap(), None);

    store.enqueue(&[upsert("e1", 1)], at(100)).await.unwrap();
    store.enqueue(&[upsert("e2", 1)], at(200)).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(100)));

    // A leased job is next due when its lease expires.
    let claimed = store
        .claim_key(&"e1".into(), "w1", at(150), LEASE)
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
        .set_grant_status(
            &"grant-1".into(),
            &GrantStatus::Paused { since: at(300) },
            at(300),
        )
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), None);
    store
        .set_grant_status(&"grant-1".into(), &GrantStatus::Active, at(301))
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
        .claim_key(&"e".into(), "w1", at(12), LEASE)
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

pub async fn queue_entry_shows_one_keys_job_and_newest_dead_letter(backend: Backend) {
    let store = &backend.store;
    assert_eq!(
        store.queue_entry(&"a".into()).await.unwrap(),
        QueueEntry::default()
    );

    store
        .enqueue(&[upsert("a", 1), upsert("b", 1)], at(0))
        .await
        .unwrap();
    let waiting = store.queue_entry(&"a".into()).await.unwrap();
    let job = waiting.job.expect("a's job");
    assert_eq!(job.request, upsert("a", 1));
    assert_eq!(
        (job.attempts, job.last_error, job.leased_until),
        (0, None, None)
    );
    assert_eq!((job.enqueued_at, job.next_attempt_at), (at(0), at(0)));
    assert_eq!(waiting.dead_letter, None);

    // In flight, then failed once: the lease, the schedule and the error show.
    let claimed = store
        .claim_key(&"a".into(), "w1", at(10), LEASE)
        .await
        .unwrap()
        .unwrap();
    let leased = store.queue_entry(&"a".into()).await.unwrap().job.unwrap();
    assert_eq!(leased.leased_until, Some(at(70)));
    let plan = RetryPlan {
        at: at(500),
        error: "CRM answered 503".into(),
        count_attempt: true,
    };
    store.retry(&claimed.lease, &plan, at(11)).await.unwrap();
    let retrying = store.queue_entry(&"a".into()).await.unwrap().job.unwrap();
    assert_eq!(retrying.attempts, 1);
    assert_eq!(retrying.last_error.as_deref(), Some("CRM answered 503"));
    assert_eq!(retrying.next_attempt_at, at(500));

    // Dead twice (retried in between): the newest dead letter shows, and no job.
    for (round, error) in [(0, "first death"), (1, "second death")] {
        let claimed = store
            .claim_key(&"a".into(), "w1", at(600 + round), LEASE)
            .await
            .unwrap()
            .unwrap();
        store
            .dead_letter(&claimed.lease, error, at(601 + round))
            .await
            .unwrap();
        if round == 0 {
            store
                .retry_dead_letters(&DeadLetterSelection::All, at(602))
                .await
                .unwrap();
            store.enqueue(&[upsert("a", 2)], at(602)).await.unwrap();
        }
    }
    let dead = store.queue_entry(&"a".into()).await.unwrap();
    assert_eq!(dead.job, None);
    let letter = dead.dead_letter.expect("a's dead letter");
    assert_eq!(letter.last_error, "second death");
    assert_eq!(letter.request.record_key, "a");
    // Other keys are untouched.
    assert_eq!(
        store
            .queue_entry(&"b".into())
            .await
            .unwrap()
            .job
            .unwrap()
            .request,
        upsert("b", 1)
    );
}

pub async fn an_existing_store_opens_read_only_and_unchanged(backend: Backend) {
    backend
        .store
        .enqueue(&[upsert("a", 1)], at(0))
        .await
        .unwrap();
    let reader = store::open_existing(&backend.url)
        .await
        .expect("open the existing store");
    assert_eq!(reader.backend(), backend.store.backend());
    reader.ping().await.unwrap();
    let job = reader
        .queue_entry(&"a".into())
        .await
        .unwrap()
        .job
        .expect("the job");
    assert_eq!(job.request, upsert("a", 1));
    // Writes are refused; the writer's store is as it was.
    assert!(reader.enqueue(&[upsert("b", 1)], at(1)).await.is_err());
    assert_eq!(
        backend.store.queue_entry(&"b".into()).await.unwrap(),
        QueueEntry::default()
    );
}
