//! A store that cannot commit (a full disk, a lock held beyond the busy timeout): POSTs are
//! answered 503 (Nylas retries them), `/readyz` fails, the process stays up and recovers by
//! itself when the store does — also after SQLite itself failed a commit on a really full disk
//! (the real binary on a small tmpfs, [`SmallDisk`]). A claim finding nothing due needs no write
//! lock, so a held lock never fails it.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use calsync::store::Store;
use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tokio_util::sync::CancellationToken;

use crate::support::binary::{Daemon, post_signed};
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::faulty_store::FaultyStore;
use crate::support::harness::TestApp;
use crate::support::payloads::{envelope, event};
use crate::support::small_disk::SmallDisk;

/// How long a recovery may take before a test fails: a liveness bound, not a speed target (the
/// recovery takes about a second on an idle machine and the tests print what they observed). It
/// leaves room for a machine loaded by parallel builds, where 20 s was once not enough for the
/// full-disk backlog to drain.
const LIMIT: Duration = Duration::from_secs(60);

pub(super) fn notification(index: usize) -> serde_json::Value {
    let object = event(&format!("evt-{index}"), "grant-1", "primary", "Call", 100);
    envelope(&format!("n-{index}"), "event.created", object)
}

/// An app whose store fails its writes on command.
async fn app_with_faulty_store() -> (TestApp, Arc<FaultyStore>) {
    let slot = Arc::new(Mutex::new(None));
    let app = TestApp::builder()
        .wrap_store({
            let slot = slot.clone();
            move |inner| {
                let faulty = FaultyStore::new(inner);
                *slot.lock().unwrap() = Some(faulty.clone());
                faulty as Arc<dyn Store>
            }
        })
        .spawn()
        .await;
    let faulty = slot.lock().unwrap().take().expect("the store was wrapped");
    (app, faulty)
}

/// Polls `/readyz` until it answers 200; whether it did within [`LIMIT`].
async fn ready(app: &TestApp) -> bool {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while tokio::time::Instant::now() < deadline {
        if app.get("/readyz").await.0 == StatusCode::OK {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn posts_get_503_and_readiness_fails_while_the_store_cannot_commit() {
    let (app, faulty) = app_with_faulty_store().await;
    for index in 0..2 {
        app.nylas.put_event(event(
            &format!("evt-{index}"),
            "grant-1",
            "primary",
            "Call",
            100,
        ));
    }
    assert_eq!(app.get("/readyz").await.0, StatusCode::OK);

    faulty.fail_writes(true);
    assert_eq!(
        app.notify(&notification(0)).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        app.get("/readyz").await,
        (StatusCode::SERVICE_UNAVAILABLE, "store unavailable".into())
    );
    assert_eq!(
        app.get("/healthz").await.0,
        StatusCode::OK,
        "the process stays up"
    );
    assert_eq!(
        app.notify(&notification(0)).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(app.metrics().await.contains(
        r#"calsync_notifications_received_total{trigger="event.created",result="unavailable"} 2"#
    ));

    // The store recovers: readiness notices by itself (no notification needed; within a second,
    // as failing probes are rate-limited), and the redelivered notification is stored and synced.
    faulty.fail_writes(false);
    assert!(ready(&app).await, "readiness did not recover");
    assert_eq!(app.notify(&notification(0)).await, StatusCode::OK);
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(app.crm.records_for("evt-0").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_outlive_store_trouble_and_resume_by_themselves() {
    let (app, faulty) = app_with_faulty_store().await;
    app.nylas
        .put_event(event("evt-0", "grant-1", "primary", "Call", 100));
    assert_eq!(app.notify(&notification(0)).await, StatusCode::OK);

    faulty.fail_writes(true);
    let stop = CancellationToken::new();
    let pool = {
        let runner = app.runner.clone();
        let stop = stop.clone();
        tokio::spawn(async move { runner.run(stop, Duration::from_secs(5)).await })
    };
    // The pool tries to claim, fails, and keeps running.
    let refused = faulty.refused();
    let tried = tokio::time::timeout(Duration::from_secs(10), async {
        while faulty.refused() == refused {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(tried.is_ok(), "the pool tried to claim");
    assert!(!pool.is_finished());
    faulty.fail_writes(false);
    assert!(
        app.crm.wait_for_live(1, Duration::from_secs(30)).await,
        "the job ran once the store recovered"
    );
    stop.cancel();
    pool.await.unwrap();
    assert_eq!(app.crm.records_for("evt-0").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lock_held_by_another_process_makes_posts_503_until_it_is_released() {
    let app = TestApp::spawn().await;
    app.nylas
        .put_event(event("evt-0", "grant-1", "primary", "Call", 100));
    let url = app.fixture.settings.store.url.expose_secret().to_string();
    let options = SqliteConnectOptions::from_str(&url).unwrap();
    let mut other = SqliteConnection::connect_with(&options).await.unwrap();
    let lock = other.begin_with("BEGIN IMMEDIATE").await.unwrap();

    // The commit waits out SQLite's busy timeout, then gives up: 503, and readiness fails.
    assert_eq!(
        app.notify(&notification(0)).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(app.get("/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);

    lock.rollback().await.unwrap();
    assert_eq!(app.get("/readyz").await.0, StatusCode::OK);
    assert_eq!(app.notify(&notification(0)).await, StatusCode::OK);
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_with_nothing_due_takes_no_write_lock() {
    // Every ingest commit wakes the worker pool: a claim finding nothing must not queue for the
    // one write connection (it held up the next ingest batch), let alone fail on a lock.
    let app = TestApp::spawn().await;
    let url = app.fixture.settings.store.url.expose_secret().to_string();
    let options = SqliteConnectOptions::from_str(&url).unwrap();
    let mut other = SqliteConnection::connect_with(&options).await.unwrap();
    let lock = other.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let now = jiff::Timestamp::now();
    let claimed = app
        .store
        .claim("test", now, Duration::from_secs(60), 10)
        .await;
    assert!(claimed.expect("no write lock needed").is_empty());
    lock.rollback().await.unwrap();
}

/// Asserts that the daemon refuses `envelope` (503, so Nylas redelivers it), again after its
/// readiness check failed: it does not come back by itself while the store cannot commit.
pub(super) async fn refuses(daemon: &mut Daemon, envelope: &serde_json::Value) {
    let refused = StatusCode::SERVICE_UNAVAILABLE;
    assert_eq!(daemon.notify(envelope).await, refused);
    assert!(daemon.wait_for_status("/readyz", refused, LIMIT).await);
    assert_eq!(daemon.notify(envelope).await, refused);
}

/// Notifications acknowledged before the disk filled, for events the fake Nylas serves.
const PENDING: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_notifications_until_space_is_freed_then_everything_drains() {
    let Some(disk) = SmallDisk::mount(16 << 20) else {
        return;
    };
    let (nylas, crm) = (FakeNylas::start().await, FakeCrm::start().await);
    for index in 0..=PENDING {
        let id = format!("evt-{index}");
        nylas.put_event(event(&id, "grant-1", "primary", "Call", 100));
    }
    crm.go_down(503);
    let logs = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", disk.path().join("calsync.db").display());
    // Retries once a second: the jobs stay pending while the CRM is down, without many writes.
    let retry = [
        ("CALSYNC__SYNC__RETRY_INITIAL", "1s"),
        ("CALSYNC__SYNC__RETRY_MAX", "1s"),
    ];
    let mut daemon = Daemon::start_on(logs.path(), &url, &nylas, &crm, &retry).await;
    for index in 0..PENDING {
        assert_eq!(daemon.notify(&notification(index)).await, StatusCode::OK);
    }

    // The disk fills up. The CRM is back, but no job can be claimed; new notifications are
    // refused (Nylas redelivers them) and readiness fails.
    disk.fill();
    crm.recover();
    let late = notification(PENDING);
    refuses(&mut daemon, &late).await;

    // Space is freed: with no restart, the redelivery is stored, readiness returns and every
    // pending job reaches the CRM, once.
    disk.free();
    let freed = tokio::time::Instant::now();
    let base = daemon.base.clone();
    let http = reqwest::Client::new();
    let stored = daemon
        .wait_for_async(LIMIT, || {
            let (http, base, late) = (http.clone(), base.clone(), late.clone());
            async move {
                let status = post_signed(&http, &base, &late).await;
                matches!(status, Ok(StatusCode::OK))
            }
        })
        .await;
    assert!(stored, "{}", daemon.log_lines().join("\n"));
    eprintln!("stored again {:?} after space was freed", freed.elapsed());
    assert!(
        daemon
            .wait_for_status("/readyz", StatusCode::OK, LIMIT)
            .await
    );
    let drained = daemon
        .wait_for(LIMIT, || crm.live_records().len() > PENDING)
        .await;
    let records = crm.live_records().len();
    assert!(
        drained,
        "{records} records\n{}",
        daemon.log_lines().join("\n")
    );
    eprintln!("drained {:?} after space was freed", freed.elapsed());
    for index in 0..=PENDING {
        assert_eq!(
            crm.records_for(&format!("evt-{index}")).len(),
            1,
            "evt-{index}"
        );
    }
    assert_eq!(daemon.terminate().await, Some(0));
}
