//! Sync state, the notification log, grants, cursors, locks, and durability across a restart.

use std::time::Duration;

use calsync::store::{
    GrantChange, GrantStatus, IncomingNotification, NotificationFilter, SyncState,
};

use super::{Backend, LEASE, at, notification, upsert};

fn state(target: &str, key: &str) -> SyncState {
    SyncState {
        target: target.into(),
        record_key: key.into(),
        crm_record_id: Some("crm-42".into()),
        version: Some(1_700_000_000),
        content_hash: Some("abc123".into()),
        tombstone: false,
        create_pending: true,
        grant_id: Some("grant-1".into()),
        calendar_id: Some("cal-1".into()),
        updated_at: Some(at(5)),
    }
}

pub async fn sync_state_round_trips(backend: Backend) {
    let store = &backend.store;
    assert_eq!(
        store
            .load_state(&"rest:a".into(), &"e1".into())
            .await
            .unwrap(),
        None
    );

    let first = state("rest:a", "e1");
    store.save_state(&first).await.unwrap();
    assert_eq!(
        store
            .load_state(&"rest:a".into(), &"e1".into())
            .await
            .unwrap(),
        Some(first)
    );

    let replaced = SyncState {
        target: "rest:a".into(),
        record_key: "e1".into(),
        tombstone: true,
        ..SyncState::default()
    };
    store.save_state(&replaced).await.unwrap();
    assert_eq!(
        store
            .load_state(&"rest:a".into(), &"e1".into())
            .await
            .unwrap(),
        Some(replaced)
    );
    assert_eq!(
        store
            .load_state(&"rest:b".into(), &"e1".into())
            .await
            .unwrap(),
        None
    );
    let other = state("rest:b", "e1");
    store.save_state(&other).await.unwrap();
    assert_eq!(
        store
            .load_state(&"rest:b".into(), &"e1".into())
            .await
            .unwrap(),
        Some(other)
    );
}

fn logged(id: &str, event: &str, seconds: i64) -> IncomingNotification {
    IncomingNotification {
        event_id: Some(event.into()),
        received_at: at(seconds),
        ..notification(id, None)
    }
}

pub async fn notifications_list_filters_and_prune(backend: Backend) {
    let store = &backend.store;
    let batch = [
        logged("n3", "e1", 30),
        logged("n1", "e1", 10),
        logged("n2", "e2", 20),
        logged("n4", "e2", 40),
    ];
    store.ingest(&batch, at(50)).await.unwrap();
    let ids = |list: Vec<calsync::store::StoredNotification>| -> Vec<String> {
        list.into_iter().map(|n| n.id.into_string()).collect()
    };

    let all = store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    assert_eq!(ids(all), ["n1", "n2", "n3", "n4"], "oldest first");
    let window = NotificationFilter {
        since: Some(at(20)),
        until: Some(at(40)),
        event_id: None,
    };
    assert_eq!(
        ids(store.list_notifications(&window).await.unwrap()),
        ["n2", "n3"],
        "since inclusive, until exclusive"
    );
    let by_event = NotificationFilter {
        event_id: Some("e1".into()),
        ..NotificationFilter::default()
    };
    assert_eq!(
        ids(store.list_notifications(&by_event).await.unwrap()),
        ["n1", "n3"]
    );

    assert_eq!(store.prune_notifications(at(30)).await.unwrap(), 2);
    let all = store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    assert_eq!(ids(all), ["n3", "n4"]);
    assert_eq!(store.prune_notifications(at(30)).await.unwrap(), 0);
}

fn grant_event(id: &str, change: GrantChange) -> IncomingNotification {
    IncomingNotification {
        trigger: "grant.changed".into(),
        grant_id: Some("grant-1".into()),
        grant_change: Some(change),
        ..notification(id, None)
    }
}

pub async fn paused_grant_jobs_wait_until_resumed(backend: Backend) {
    let store = &backend.store;
    assert_eq!(
        store.grant_status(&"grant-1".into()).await.unwrap(),
        GrantStatus::Active
    );
    store.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    store
        .ingest(&[grant_event("g1", GrantChange::Expired)], at(10))
        .await
        .unwrap();
    assert_eq!(
        store.grant_status(&"grant-1".into()).await.unwrap(),
        GrantStatus::Paused { since: at(10) }
    );
    assert_eq!(store.paused_grants().await.unwrap(), 1);
    // Jobs keep arriving for it, but none runs.
    store
        .ingest(&[notification("n2", Some(upsert("e2", 1)))], at(11))
        .await
        .unwrap();
    let mut other = upsert("x1", 1);
    other.grant_id = "grant-2".into();
    store.enqueue(&[other], at(11)).await.unwrap();
    let claimed = store.claim("w1", at(12), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].request.grant_id, "grant-2");
    assert_eq!(
        store
            .claim_key(&"e1".into(), "w1", at(12), LEASE)
            .await
            .unwrap(),
        None
    );

    // A second expiry keeps the original pause time.
    store
        .ingest(&[grant_event("g2", GrantChange::Expired)], at(20))
        .await
        .unwrap();
    assert_eq!(
        store.grant_status(&"grant-1".into()).await.unwrap(),
        GrantStatus::Paused { since: at(10) }
    );

    store
        .ingest(&[grant_event("g3", GrantChange::Updated)], at(30))
        .await
        .unwrap();
    assert_eq!(
        store.grant_status(&"grant-1".into()).await.unwrap(),
        GrantStatus::Active
    );
    assert_eq!(store.paused_grants().await.unwrap(), 0);
    let claimed = store.claim("w1", at(30), LEASE, 10).await.unwrap();
    let mut keys: Vec<_> = claimed
        .iter()
        .map(|c| c.request.record_key.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["e1", "e2"]);
}

pub async fn deleted_grant_drops_and_refuses_jobs(backend: Backend) {
    let store = &backend.store;
    store
        .enqueue(&[upsert("e1", 1), upsert("e2", 1)], at(0))
        .await
        .unwrap();
    let in_flight = store
        .claim_key(&"e1".into(), "w1", at(0), LEASE)
        .await
        .unwrap()
        .unwrap();
    store
        .ingest(&[grant_event("g1", GrantChange::Deleted)], at(10))
        .await
        .unwrap();
    assert_eq!(
        store.grant_status(&"grant-1".into()).await.unwrap(),
        GrantStatus::Deleted { at: at(10) }
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
    assert_eq!(store.job_stats(at(10)).await.unwrap().pending, 0);

    // Later work for it is not enqueued, whichever way it comes.
    store
        .ingest(&[notification("n2", Some(upsert("e3", 1)))], at(11))
        .await
        .unwrap();
    store.enqueue(&[upsert("e4", 1)], at(11)).await.unwrap();
    assert!(
        store
            .claim("w1", at(12), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
    // The worker that held a job when the grant went away is not told to run it again.
    assert_eq!(
        store.complete(&in_flight.lease, at(12)).await.unwrap(),
        calsync::store::Completion::Finished
    );

    // Notifications do not revive it.
    store
        .ingest(
            &[
                grant_event("g2", GrantChange::Updated),
                grant_event("g3", GrantChange::Expired),
            ],
            at(20),
        )
        .await
        .unwrap();
    assert_eq!(
        store.grant_status(&"grant-1".into()).await.unwrap(),
        GrantStatus::Deleted { at: at(10) }
    );
}

pub async fn explicit_grant_status_round_trips(backend: Backend) {
    let store = &backend.store;
    for status in [
        GrantStatus::Paused { since: at(5) },
        GrantStatus::Active,
        GrantStatus::Deleted { at: at(7) },
        GrantStatus::Active,
    ] {
        store
            .set_grant_status(&"grant-9".into(), &status, at(8))
            .await
            .unwrap();
        assert_eq!(store.grant_status(&"grant-9".into()).await.unwrap(), status);
    }
    assert_eq!(
        store.grant_status(&"grant-other".into()).await.unwrap(),
        GrantStatus::Active
    );

    // Deleting through the explicit call drops its jobs too.
    let mut job = upsert("e1", 1);
    job.grant_id = "grant-9".into();
    store.enqueue(&[job], at(9)).await.unwrap();
    store
        .set_grant_status(
            &"grant-9".into(),
            &GrantStatus::Deleted { at: at(10) },
            at(10),
        )
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), None);
}

pub async fn cursors_are_named_values(backend: Backend) {
    let store = &backend.store;
    assert_eq!(store.get_cursor("backfill:grant-1").await.unwrap(), None);
    store
        .put_cursor("backfill:grant-1", "page-1", at(0))
        .await
        .unwrap();
    store
        .put_cursor("backfill:grant-1", "page-2", at(1))
        .await
        .unwrap();
    store
        .put_cursor("backfill:grant-2", "page-9", at(1))
        .await
        .unwrap();
    store
        .put_cursor("backfill_x", "literal", at(1))
        .await
        .unwrap();
    store
        .put_cursor("reconcile", "2026-07-01", at(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_cursor("backfill:grant-1")
            .await
            .unwrap()
            .as_deref(),
        Some("page-2")
    );

    // The prefix is literal: `_` and `%` are not wildcards.
    assert_eq!(store.delete_cursors("backfill%").await.unwrap(), 0);
    assert_eq!(store.delete_cursors("backfill:").await.unwrap(), 2);
    assert_eq!(store.get_cursor("backfill:grant-2").await.unwrap(), None);
    assert_eq!(
        store.get_cursor("backfill_x").await.unwrap().as_deref(),
        Some("literal")
    );
    assert_eq!(
        store.get_cursor("reconcile").await.unwrap().as_deref(),
        Some("2026-07-01")
    );
}

pub async fn try_lock_is_exclusive_until_expiry(backend: Backend) {
    let store = &backend.store;
    let ttl = Duration::from_secs(30);
    assert!(store.try_lock("reconcile", "a", at(0), ttl).await.unwrap());
    assert!(!store.try_lock("reconcile", "b", at(10), ttl).await.unwrap());
    assert!(store.try_lock("other", "b", at(10), ttl).await.unwrap());
    // The owner renews before expiry, which pushes the expiry.
    assert!(store.try_lock("reconcile", "a", at(20), ttl).await.unwrap());
    assert!(!store.try_lock("reconcile", "b", at(40), ttl).await.unwrap());
    // After expiry anyone takes it, and the previous owner is out.
    assert!(store.try_lock("reconcile", "b", at(51), ttl).await.unwrap());
    assert!(!store.try_lock("reconcile", "a", at(52), ttl).await.unwrap());
}

pub async fn a_released_lock_is_free_at_once(backend: Backend) {
    let store = &backend.store;
    let ttl = Duration::from_secs(1_800);
    assert!(store.try_lock("reconcile", "a", at(0), ttl).await.unwrap());
    // Someone else's release changes nothing.
    store.release_lock("reconcile", "b").await.unwrap();
    assert!(!store.try_lock("reconcile", "b", at(1), ttl).await.unwrap());
    // The owner's release frees it long before its expiry; releasing twice is harmless.
    store.release_lock("reconcile", "a").await.unwrap();
    store.release_lock("reconcile", "a").await.unwrap();
    assert!(store.try_lock("reconcile", "b", at(2), ttl).await.unwrap());
    assert!(!store.try_lock("reconcile", "a", at(3), ttl).await.unwrap());
    store.release_lock("never-taken", "a").await.unwrap();
}

pub async fn data_survives_reopening(backend: Backend) {
    let Backend { store, url, .. } = backend;
    store
        .ingest(&[notification("n1", Some(upsert("e1", 1)))], at(0))
        .await
        .unwrap();
    store.enqueue(&[upsert("e2", 1)], at(0)).await.unwrap();
    let claimed = store
        .claim_key(&"e2".into(), "w1", at(0), LEASE)
        .await
        .unwrap()
        .unwrap();
    store
        .dead_letter(&claimed.lease, "rejected", at(1))
        .await
        .unwrap();
    store.save_state(&state("rest:a", "e1")).await.unwrap();
    store
        .set_grant_status(
            &"grant-7".into(),
            &GrantStatus::Paused { since: at(2) },
            at(2),
        )
        .await
        .unwrap();
    store.put_cursor("reconcile", "w-1", at(2)).await.unwrap();
    assert!(
        store
            .try_lock("reconcile", "a", at(2), LEASE)
            .await
            .unwrap()
    );
    drop(store);

    // Open it twice over (two processes): migrations are idempotent, everything committed is
    // there, and both see the same leases.
    let first = calsync::store::open(&url).await.unwrap();
    let second = calsync::store::open(&url).await.unwrap();
    for store in [&first, &second] {
        assert_eq!(
            store
                .ingest(&[notification("n1", None)], at(3))
                .await
                .unwrap(),
            [calsync::store::IngestOutcome::Duplicate]
        );
        assert_eq!(store.list_dead_letters(10).await.unwrap().len(), 1);
        assert_eq!(
            store
                .load_state(&"rest:a".into(), &"e1".into())
                .await
                .unwrap(),
            Some(state("rest:a", "e1"))
        );
        assert_eq!(
            store.grant_status(&"grant-7".into()).await.unwrap(),
            GrantStatus::Paused { since: at(2) }
        );
        assert_eq!(
            store.get_cursor("reconcile").await.unwrap().as_deref(),
            Some("w-1")
        );
        assert!(
            !store
                .try_lock("reconcile", "b", at(3), LEASE)
                .await
                .unwrap()
        );
    }
    let jobs = first.claim("w2", at(3), LEASE, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].request, upsert("e1", 1));
    assert!(
        second
            .claim("w3", at(4), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
