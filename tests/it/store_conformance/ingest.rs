//! Ingest: notifications are stored once, and only new ones cause jobs.

use std::time::Duration;

use calsync::store::{
    GrantChange, IncomingNotification, IngestOutcome, JobSource, NotificationFilter, PayloadOrigin,
};
use serde_json::json;

use super::{Backend, LEASE, at, delete, notification, upsert};

pub async fn stores_each_notification_id_once(backend: Backend) {
    let store = &backend.store;
    let first = notification("n1", Some(upsert("e1", 1)));
    let outcomes = store
        .ingest(
            &[first.clone(), first.clone(), notification("n2", None)],
            at(0),
        )
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            IngestOutcome::Accepted,
            IngestOutcome::Duplicate,
            IngestOutcome::Accepted
        ]
    );
    let again = store
        .ingest(std::slice::from_ref(&first), at(5))
        .await
        .unwrap();
    assert_eq!(again, [IngestOutcome::Duplicate]);

    let logged = store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    let ids: Vec<&str> = logged.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["n1", "n2"]);
    assert_eq!(logged[0].body, first.body);
    assert_eq!(logged[0].trigger, "event.updated");
    assert_eq!(
        logged[0].grant_id.as_ref().map(|id| id.as_str()),
        Some("grant-1")
    );
    assert_eq!(
        logged[0].event_id.as_ref().map(|id| id.as_str()),
        Some("e1")
    );
    assert_eq!(logged[0].received_at, at(0));
}

pub async fn duplicates_do_not_touch_jobs(backend: Backend) {
    let store = &backend.store;
    store
        .ingest(&[notification("n1", Some(upsert("e1", 1)))], at(0))
        .await
        .unwrap();
    let claimed = store.claim("w1", at(1), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);

    // A redelivery with other content (it cannot really differ, but must not matter).
    let outcomes = store
        .ingest(&[notification("n1", Some(upsert("e1", 9)))], at(2))
        .await
        .unwrap();
    assert_eq!(outcomes, [IngestOutcome::Duplicate]);
    // The job did not change while in flight: completing it finishes it.
    let completion = store.complete(&claimed[0].lease, at(3)).await.unwrap();
    assert_eq!(completion, calsync::store::Completion::Finished);
    assert!(
        store
            .claim("w1", at(4), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
}

pub async fn jobs_round_trip_every_field(backend: Backend) {
    let store = &backend.store;
    let mut job = upsert("e1", 1_700_000_000);
    job.payload =
        Some(json!({ "id": "e1", "title": "Kick-off", "when": { "object": "timespan" } }).into());
    job.origin = PayloadOrigin::NotificationPartial;
    job.force_fetch = true;
    store
        .ingest(&[notification("n1", Some(job.clone()))], at(0))
        .await
        .unwrap();

    let claimed = store.claim("w1", at(0), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let claimed = &claimed[0];
    assert_eq!(claimed.request, job);
    assert_eq!(claimed.lease.record_key, "e1");
    assert!(!claimed.lease.token.is_empty());
    assert_eq!(claimed.attempts, 0);
    assert_eq!(claimed.enqueued_at, at(0));
    assert_eq!(claimed.last_error, None);

    let mut bare = upsert("e2", 1);
    bare.calendar_id = None;
    bare.payload = None;
    bare.origin = PayloadOrigin::None;
    bare.version = None;
    bare.notification_id = None;
    bare.source = JobSource::Reconcile;
    store.enqueue(&[bare.clone()], at(1)).await.unwrap();
    let claimed = store.claim("w1", at(1), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].request, bare);
}

pub async fn empty_batches_are_fine(backend: Backend) {
    let store = &backend.store;
    assert!(store.ingest(&[], at(0)).await.unwrap().is_empty());
    store.enqueue(&[], at(0)).await.unwrap();
    assert!(store.claim("w1", at(0), LEASE, 0).await.unwrap().is_empty());
    store.ping().await.unwrap();
}

pub async fn enqueue_applies_jobs_without_notifications(backend: Backend) {
    let store = &backend.store;
    let mut first = upsert("e1", 1);
    first.source = JobSource::Backfill;
    first.origin = PayloadOrigin::EventsApi;
    let mut second = upsert("e2", 1);
    second.source = JobSource::Replay;
    store
        .enqueue(&[first.clone(), second.clone()], at(0))
        .await
        .unwrap();
    let claimed = store.claim("w1", at(0), LEASE, 10).await.unwrap();
    let mut requests: Vec<_> = claimed.into_iter().map(|c| c.request).collect();
    requests.sort_by(|a, b| a.record_key.cmp(&b.record_key));
    assert_eq!(requests, [first, second]);
    assert!(
        store
            .list_notifications(&NotificationFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn wakeups_signal_new_and_released_work(backend: Backend) {
    let store = &backend.store;
    let wakeups = store.wakeups();

    let notified = wakeups.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    store
        .ingest(&[notification("n1", Some(upsert("e1", 1)))], at(0))
        .await
        .unwrap();
    // A zero timeout still polls the future once: ready means it was signalled.
    assert!(tokio::time::timeout(Duration::ZERO, notified).await.is_ok());

    let claimed = store.claim("w1", at(0), LEASE, 1).await.unwrap();
    let notified = wakeups.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    store.release(&claimed[0].lease, at(1)).await.unwrap();
    assert!(tokio::time::timeout(Duration::ZERO, notified).await.is_ok());
}

/// A batch far larger than one multi-row statement: each job applies in arrival order (a key's
/// newer versions replace older ones, an older one arriving last is stale), a repeated id is a
/// duplicate that changes nothing, and a job for a deleted grant is refused.
pub async fn a_large_batch_applies_every_job_in_order(backend: Backend) {
    let store = &backend.store;
    let deletion = IncomingNotification {
        trigger: "grant.deleted".into(),
        grant_id: Some("grant-gone".into()),
        grant_change: Some(GrantChange::Deleted),
        ..notification("g-deleted", None)
    };
    store.ingest(&[deletion], at(0)).await.unwrap();

    // 300 notifications over 100 keys, each key three times with rising versions.
    let mut batch: Vec<IncomingNotification> = (0..300)
        .map(|index| {
            let key = format!("e-{}", index % 100);
            notification(&format!("n-{index}"), Some(upsert(&key, index)))
        })
        .collect();
    batch.push(notification("n-5", Some(upsert("e-5", 999))));
    batch.push(notification("n-stale", Some(upsert("e-0", 0))));
    let mut refused = upsert("e-gone", 1);
    refused.grant_id = "grant-gone".into();
    batch.push(notification("n-gone", Some(refused)));

    let outcomes = store.ingest(&batch, at(1)).await.unwrap();
    let duplicates: Vec<usize> = (0..outcomes.len())
        .filter(|&index| outcomes[index] == IngestOutcome::Duplicate)
        .collect();
    assert_eq!(duplicates, [300], "only the second copy of n-5");

    let claimed = store.claim("w1", at(1), LEASE, 1_000).await.unwrap();
    let mut versions: Vec<(String, Option<i64>)> = claimed
        .into_iter()
        .map(|job| (job.request.record_key.into_string(), job.request.version))
        .collect();
    versions.sort();
    let mut expected: Vec<(String, Option<i64>)> = (0..100)
        .map(|key| (format!("e-{key}"), Some(200 + key)))
        .collect();
    expected.sort();
    assert_eq!(versions, expected);
}

/// Requests for one key in one small batch (one multi-row statement on SQLite, rounds on
/// PostgreSQL) coalesce exactly as if enqueued one by one: a newer version replaces, an older
/// one is stale, a delete replaces, and an upsert after the delete must fetch.
pub async fn one_key_repeated_in_a_batch_coalesces_in_order(backend: Backend) {
    let store = &backend.store;
    let batch = [
        notification("n1", Some(upsert("e1", 1))),
        notification("n2", Some(upsert("e1", 3))),
        notification("n3", Some(upsert("e1", 2))),
        notification("n4", Some(delete("e1"))),
        notification("n5", Some(upsert("e1", 4))),
    ];
    let outcomes = store.ingest(&batch, at(0)).await.unwrap();
    assert_eq!(outcomes, [IngestOutcome::Accepted; 5]);
    let claimed = store.claim("w1", at(0), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let job = &claimed[0].request;
    assert_eq!(job.version, Some(4));
    assert_eq!(
        job.notification_id.as_ref().map(|id| id.as_str()),
        Some("notification-e1-4")
    );
    assert!(job.force_fetch, "an upsert over a delete fetches the event");
}
