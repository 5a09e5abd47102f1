//! Several replicas, one truth: three real `calsync serve` processes share one fresh PostgreSQL
//! database, with the fake Nylas and CRM. Every notification is delivered to two of them at the
//! same moment (Nylas retries land anywhere), each event is updated in a burst, and one replica
//! is SIGKILLed mid-burst. Afterwards each event has exactly one CRM record, created once,
//! holding the latest source state, and every acknowledged notification was stored once.
//!
//! Two things this test must not take for granted:
//! - Which replica claims which job. The victim is killed while it holds leases, and a burst of
//!   twelve 300 ms jobs on twelve workers can be over — all of it claimed by the other two —
//!   before the victim is seen holding one; nothing new would arrive while the test waited, so
//!   it failed with "replica 0 never held a lease". The CRM therefore holds every request of the
//!   kill burst: its jobs stay in flight (leases renewed), the two survivors have 8 workers for
//!   12 jobs, so the victim must take some; it is killed holding them, then the CRM lets go.
//! - How many POSTs arrive. A POST in flight when its replica is SIGKILLed is dropped by the
//!   fake's server before it creates anything, and its job is rightly retried elsewhere: the
//!   test counts records *created* (exactly one per event, deleted or not), never arrivals.
//!
//! Without `CALSYNC_TEST_POSTGRES_URL` the test passes without running, and says so.

use std::time::Duration;

use calsync::store::{self, NotificationFilter};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Connection;

use crate::support::binary::Daemon;
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::payloads::{envelope, event};
use crate::support::postgres::TestDatabase;

const EVENTS: usize = 12;
const VERSIONS: i64 = 6;
/// The replica killed after this version's notifications were delivered.
const KILL_AFTER: i64 = 3;
/// How long convergence may take before the test fails.
const LIMIT: Duration = Duration::from_secs(90);

fn event_id(index: usize) -> String {
    format!("evt-{index}")
}

fn title(version: i64) -> String {
    format!("Quarterly review v{version}")
}

/// The event's `updated_at` at `version`.
fn updated_at(version: i64) -> i64 {
    1_781_000_000 + version * 60
}

/// Puts every event at `version` in Nylas and delivers each notification to two replicas at
/// once; panics unless at least one of the two stored it.
async fn burst(replicas: &[Daemon], alive: &[bool], nylas: &FakeNylas, version: i64) {
    let deliveries = (0..EVENTS).map(|index| {
        let object = event(
            &event_id(index),
            "grant-1",
            "primary",
            &title(version),
            updated_at(version),
        );
        nylas.put_event(object.clone());
        let message = envelope(&format!("n-{index}-{version}"), "event.updated", object);
        let first = (index + version as usize) % replicas.len();
        let second = (first + 1) % replicas.len();
        async move {
            let (one, two) = tokio::join!(
                replicas[first].try_notify(&message),
                replicas[second].try_notify(&message)
            );
            for (replica, answer) in [(first, &one), (second, &two)] {
                if alive[replica] {
                    let status = answer.as_ref().copied().map_err(ToString::to_string);
                    assert_eq!(status, Ok(StatusCode::OK), "replica {replica}, {message}");
                }
            }
            assert!(
                [one, two]
                    .into_iter()
                    .any(|a| matches!(a, Ok(StatusCode::OK))),
                "nobody stored {message}"
            );
        }
    });
    join_all(deliveries).await;
}

/// Whether every event's live CRM record holds the latest version.
fn converged(crm: &FakeCrm) -> bool {
    let live = crm.live_records();
    (0..EVENTS).all(|index| {
        live.iter().any(|record| {
            record.external_event_id == event_id(index)
                && record.body["meeting_subject"] == title(VERSIONS)
        })
    })
}

/// Whether the calsync process `pid` holds an unexpired job lease.
async fn holds_leases(url: &str, pid: u32) -> bool {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE starts_with(lease_owner, $1) AND leased_until > $2)",
    )
    .bind(format!("{pid}-"))
    .bind(now)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_the_work_and_lose_nothing_when_one_is_killed() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    // A slow CRM keeps jobs in flight, so the SIGKILL leaves leases behind.
    crm.slow_down(Duration::from_millis(150));
    let env = [
        ("CALSYNC__SYNC__WORKERS", "4"),
        ("CALSYNC__SYNC__LEASE", "2s"),
    ];
    // Started together: their migrations race on the advisory lock.
    let logs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let (a, b, c) = tokio::join!(
        Daemon::start_on(logs[0].path(), &database.url, &nylas, &crm, &env),
        Daemon::start_on(logs[1].path(), &database.url, &nylas, &crm, &env),
        Daemon::start_on(logs[2].path(), &database.url, &nylas, &crm, &env),
    );
    let mut replicas = [a, b, c];
    let mut alive = [true; 3];

    for version in 1..=VERSIONS {
        // The kill burst's jobs stay in flight at the CRM until the victim is dead.
        let held: Vec<_> = if version == KILL_AFTER {
            (0..EVENTS)
                .map(|index| crm.hold(&event_id(index)))
                .collect()
        } else {
            Vec::new()
        };
        burst(&replicas, &alive, &nylas, version).await;
        if version == KILL_AFTER {
            // Mid-burst: as soon as the victim holds leases, so its jobs must come back.
            let victim = replicas[0].pid();
            let holds = replicas[0]
                .wait_for_async(LIMIT, || holds_leases(&database.url, victim))
                .await;
            assert!(holds, "replica 0 never held a lease");
            replicas[0].kill();
            alive[0] = false;
            for (index, hold) in held.iter().enumerate() {
                crm.unhold(&event_id(index));
                hold.release();
            }
        }
    }

    let store = store::open(&database.url)
        .await
        .expect("open the shared store");
    let survivor = &mut replicas[1];
    assert!(
        survivor.wait_for(LIMIT, || converged(&crm)).await,
        "the CRM did not reach the latest version of every event"
    );
    let drained = survivor
        .wait_for_async(LIMIT, || {
            let store = store.clone();
            async move {
                let stats = store.job_stats(jiff::Timestamp::now()).await.unwrap();
                stats.pending + stats.in_flight + stats.retrying == 0
            }
        })
        .await;
    assert!(drained, "jobs were left behind");

    for index in 0..EVENTS {
        let records = crm.records_for(&event_id(index));
        assert_eq!(
            records.len(),
            1,
            "{} has {} records",
            event_id(index),
            records.len()
        );
        let body = &records[0].body;
        assert_eq!(body["meeting_subject"], Value::from(title(VERSIONS)));
        let latest = jiff::Timestamp::from_second(updated_at(VERSIONS)).unwrap();
        assert_eq!(body["source_updated_at"], Value::from(latest.to_string()));
        assert!(!records[0].deleted);
    }
    // Created, not arrived (see the module doc); with the loop above: one record per event.
    assert_eq!(
        crm.all_records().len(),
        EVENTS,
        "one record created per event"
    );
    let logged = store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    assert_eq!(logged.len(), EVENTS * VERSIONS as usize, "each stored once");
    assert_eq!(
        store.job_stats(jiff::Timestamp::now()).await.unwrap().dead,
        0
    );

    for replica in &mut replicas[1..] {
        assert_eq!(replica.terminate().await, Some(0));
    }
}
