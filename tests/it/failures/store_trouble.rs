//! A store that cannot commit (a full disk, a lock held beyond the busy timeout): POSTs are
//! answered 503 (Nylas retries them), `/readyz` fails, the process stays up and recovers by
//! itself when the store does.

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

use crate::support::faulty_store::FaultyStore;
use crate::support::harness::TestApp;
use crate::support::payloads::{envelope, event};

fn notification(index: usize) -> serde_json::Value {
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

    // The store recovers: readiness notices by itself (no notification needed), and the
    // redelivered notification is stored and synced.
    faulty.fail_writes(false);
    assert_eq!(app.get("/readyz").await.0, StatusCode::OK);
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
