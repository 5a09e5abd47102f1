//! PostgreSQL only: several store handles on one database — separate pools and listeners, as in
//! separate replicas — racing each other. One SQLite process cannot show these: its writes are
//! serialized by construction. Each test gets a fresh database; without
//! `CALSYNC_TEST_POSTGRES_URL` each passes without running, saying so.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use calsync::store::postgres::{LISTENER_APPLICATION_NAME, PostgresStore};
use calsync::store::{
    GrantChange, IncomingNotification, IngestOutcome, JobQueue, NotificationLog, Store, StoreError,
};
use futures::future::join_all;
use sqlx::Connection;

use super::{LEASE, at, notification, upsert};
use crate::support::postgres::TestDatabase;

/// How long a wake-up may take to cross replicas before the test fails.
const WAKE_LIMIT: Duration = Duration::from_secs(10);

/// A fresh database and `count` store handles on it, opened at the same time (their migrations
/// race too).
async fn replicas(count: usize) -> Option<(TestDatabase, Vec<PostgresStore>)> {
    let database = TestDatabase::create().await?;
    let opened = join_all((0..count).map(|_| PostgresStore::open(&database.url))).await;
    let stores = opened
        .into_iter()
        .map(|store| store.expect("open a replica's store"))
        .collect();
    Some((database, stores))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_migrate_at_once_and_race_one_notification() {
    let Some((_database, stores)) = replicas(4).await else {
        return;
    };
    let (a, b) = (&stores[0], &stores[1]);
    for index in 0..40 {
        let copy = notification(&format!("n{index}"), Some(upsert(&format!("e{index}"), 1)));
        let (first, second) = tokio::join!(
            a.ingest(std::slice::from_ref(&copy), at(0)),
            b.ingest(std::slice::from_ref(&copy), at(0)),
        );
        let mut outcomes = [first.unwrap()[0], second.unwrap()[0]];
        outcomes.sort_by_key(|outcome| *outcome == IngestOutcome::Duplicate);
        assert_eq!(
            outcomes,
            [IngestOutcome::Accepted, IngestOutcome::Duplicate],
            "n{index}"
        );
    }
    let claimed = a.claim("w1", at(1), LEASE, 100).await.unwrap();
    assert_eq!(claimed.len(), 40);
    for job in &claimed {
        // The duplicate did not coalesce into the job a second time.
        assert_eq!(job.lease.generation, 0, "{}", job.request.record_key);
    }
    for store in &stores {
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_batches_in_opposite_orders_do_not_deadlock() {
    let Some((_database, stores)) = replicas(2).await else {
        return;
    };
    let batch: Vec<IncomingNotification> = (0..30)
        .map(|i| notification(&format!("n{i}"), Some(upsert(&format!("e{}", i % 7), i))))
        .collect();
    let mut reversed = batch.clone();
    reversed.reverse();
    let (forward, backward) = tokio::join!(
        stores[0].ingest(&batch, at(0)),
        stores[1].ingest(&reversed, at(0)),
    );
    let (forward, backward) = (forward.unwrap(), backward.unwrap());
    for index in 0..batch.len() {
        let pair = [forward[index], backward[batch.len() - 1 - index]];
        assert!(
            pair.contains(&IngestOutcome::Accepted) && pair.contains(&IngestOutcome::Duplicate),
            "n{index}: {pair:?}"
        );
    }
    let claimed = stores[0].claim("w1", at(1), LEASE, 100).await.unwrap();
    let mut keys: Vec<String> = claimed
        .iter()
        .map(|c| c.request.record_key.to_string())
        .collect();
    keys.sort();
    assert_eq!(keys, ["e0", "e1", "e2", "e3", "e4", "e5", "e6"]);
    for job in claimed {
        // Whatever the interleaving, the newest version of each key wins.
        let key: i64 = job.request.record_key.as_str()[1..].parse().unwrap();
        let newest = (0..30).filter(|i| i % 7 == key).max().unwrap();
        assert_eq!(job.request.version, Some(newest), "e{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_of_one_key_coalesce_to_the_newest() {
    let Some((_database, stores)) = replicas(2).await else {
        return;
    };
    let deliveries = (1..=24).map(|version| {
        let store = &stores[version as usize % 2];
        let copy = notification(&format!("n{version}"), Some(upsert("e1", version)));
        async move { store.ingest(&[copy], at(version)).await }
    });
    for outcome in join_all(deliveries).await {
        assert_eq!(outcome.unwrap(), [IngestOutcome::Accepted]);
    }
    let claimed = stores[1].claim("w1", at(30), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "one job per key");
    assert_eq!(claimed[0].request.version, Some(24));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_claims_never_share_a_key() {
    let Some((_database, stores)) = replicas(2).await else {
        return;
    };
    let jobs: Vec<_> = (0..300).map(|i| upsert(&format!("e{i:03}"), 1)).collect();
    stores[0].enqueue(&jobs, at(0)).await.unwrap();
    let claimers = (0..8).map(|worker| {
        let store = &stores[worker % 2];
        async move {
            let mut mine = Vec::new();
            loop {
                let owner = format!("w{worker}");
                let claimed = store.claim(&owner, at(1), LEASE, 7).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(
                    claimed
                        .into_iter()
                        .map(|c| c.request.record_key.into_string()),
                );
            }
        }
    });
    let claimed: Vec<String> = join_all(claimers).await.into_iter().flatten().collect();
    let distinct: HashSet<&String> = claimed.iter().collect();
    assert_eq!(distinct.len(), claimed.len(), "a key was claimed twice");
    assert_eq!(claimed.len(), 300);
    // Once the leases expire, each key is claimable again, by one claimer only.
    let (first, second) = tokio::join!(
        stores[0].claim("late-a", at(62), LEASE, 300),
        stores[1].claim("late-b", at(62), LEASE, 300),
    );
    assert_eq!(first.unwrap().len() + second.unwrap().len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_grant_races_no_job_past_the_fence() {
    let Some((_database, stores)) = replicas(2).await else {
        return;
    };
    let jobs = (0..20).map(|round| {
        let store = &stores[0];
        let copy = notification(&format!("n{round}"), Some(upsert(&format!("e{round}"), 1)));
        async move { store.ingest(&[copy], at(1)).await }
    });
    let deletion = IncomingNotification {
        trigger: "grant.deleted".into(),
        grant_id: Some("grant-1".into()),
        grant_change: Some(GrantChange::Deleted),
        ..notification("g-deleted", None)
    };
    let deletion = [deletion];
    let (ingested, deleted) = tokio::join!(join_all(jobs), stores[1].ingest(&deletion, at(1)));
    deleted.unwrap();
    for outcome in ingested {
        outcome.unwrap();
    }
    let stats = stores[0].job_stats(at(2)).await.unwrap();
    assert_eq!(
        (stats.pending, stats.in_flight),
        (0, 0),
        "a job of the deleted grant survived"
    );
}

/// Waits for `notified` (armed earlier), failing the test after [`WAKE_LIMIT`].
async fn woken(notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>, what: &str) {
    tokio::time::timeout(WAKE_LIMIT, notified)
        .await
        .unwrap_or_else(|_| panic!("no wake-up after {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_committed_by_one_replica_wakes_the_others() {
    let Some((_database, stores)) = replicas(2).await else {
        return;
    };
    let (a, b) = (&stores[0], &stores[1]);
    let wakeups = a.wakeups();

    let notified = wakeups.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    b.ingest(&[notification("n1", Some(upsert("e1", 1)))], at(0))
        .await
        .unwrap();
    woken(notified, "another replica's ingest").await;

    let claimed = b.claim("w1", at(0), LEASE, 1).await.unwrap();
    let notified = wakeups.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    b.release(&claimed[0].lease, at(1)).await.unwrap();
    woken(notified, "another replica's release").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reconnects_after_losing_its_connection() {
    let Some((database, stores)) = replicas(2).await else {
        return;
    };
    let (a, b) = (&stores[0], &stores[1]);
    let wakeups = a.wakeups();
    let notified = wakeups.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();

    let mut admin = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1",
    )
    .bind(LISTENER_APPLICATION_NAME)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(killed, [true, true], "both replicas' listeners");
    // Once subscribed again, the listener wakes the workers (they may have missed work) …
    woken(notified, "the listener reconnected").await;

    // … and hears other replicas again.
    let notified = wakeups.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    b.enqueue(&[upsert("e1", 1)], at(0)).await.unwrap();
    woken(notified, "an enqueue after reconnecting").await;
    for store in &stores {
        store.close().await;
    }
}

#[tokio::test]
async fn open_errors_are_classified_without_the_password() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let mut missing = url::Url::parse(&database.url).unwrap();
    missing.set_path(&format!("{}_missing", database.name()));
    missing.set_password(Some("s3cret")).unwrap();
    let error = match calsync::store::open(missing.as_str()).await {
        Err(error) => error,
        Ok(_) => panic!("a missing database opened"),
    };
    assert!(matches!(error, StoreError::Setup(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("***"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");

    // A handle dropped without `close` stops its listener: the LISTEN connection goes away.
    let store: Arc<dyn Store> = calsync::store::open(&database.url).await.unwrap();
    let mut admin = sqlx::PgConnection::connect(&database.url).await.unwrap();
    assert_eq!(listeners(&mut admin).await, 1);
    drop(store);
    let deadline = tokio::time::Instant::now() + WAKE_LIMIT;
    while listeners(&mut admin).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the listener outlived its store"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many LISTEN connections are open on the current database.
async fn listeners(admin: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1",
    )
    .bind(LISTENER_APPLICATION_NAME)
    .fetch_one(admin)
    .await
    .unwrap()
}
