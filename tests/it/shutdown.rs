//! Graceful shutdown (issue 3, item 6): on the signal, notifications are answered 503 while
//! in-flight jobs finish (up to `server.shutdown_timeout`); unfinished jobs are released, due
//! at once; the accepted notifications are flushed; the process exits 0; a second signal exits
//! at once. Nothing acknowledged is ever lost.

use std::time::Duration;

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use nix::sys::signal::Signal;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::support::binary::{Daemon, post_signed};
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::harness::TestApp;
use crate::support::payloads::{envelope, event};

const LIMIT: Duration = Duration::from_secs(30);

fn notification(id: &str) -> Value {
    envelope(
        &format!("n-{id}"),
        "event.created",
        event(id, "grant-1", "primary", "Call", 100),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_answers_503_finishes_in_flight_jobs_and_releases_the_rest() {
    let (app, fixture) = TestApp::builder()
        .with_config(|settings| {
            settings.server.shutdown_timeout = Duration::from_secs(3);
            settings.sync.workers = 2;
        })
        .build()
        .await;
    let (nylas, crm) = (fixture.nylas.clone(), fixture.crm.clone());
    for id in ["evt-a", "evt-b", "evt-c"] {
        nylas.put_event(event(id, "grant-1", "primary", "Call", 100));
    }
    let (hold_a, hold_b) = (crm.hold("evt-a"), crm.hold("evt-b"));
    let store = app.components().store;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    for id in ["evt-a", "evt-b"] {
        let status = post_signed(&http, &base, &notification(id)).await.unwrap();
        assert_eq!(status, StatusCode::OK);
    }
    tokio::time::timeout(LIMIT, hold_a.arrived()).await.unwrap();
    tokio::time::timeout(LIMIT, hold_b.arrived()).await.unwrap();

    stop.send(()).unwrap();
    let draining = tokio::time::timeout(LIMIT, async {
        loop {
            let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
            if ready.status() == StatusCode::SERVICE_UNAVAILABLE {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(draining.is_ok(), "/readyz never turned 503");
    let refused = post_signed(&http, &base, &notification("evt-c"))
        .await
        .unwrap();
    assert_eq!(refused, StatusCode::SERVICE_UNAVAILABLE);

    // A finishes within the deadline; B is still stuck when it passes.
    hold_a.release();
    let served = tokio::time::timeout(LIMIT, serving).await.unwrap().unwrap();
    assert!(served.is_ok(), "{served:?}");
    assert_eq!(crm.records_for("evt-a").len(), 1);
    assert!(crm.records_for("evt-b").is_empty());

    // B's lease was released: another process can claim it at once. C was never stored.
    let now = fixture.clock.now();
    let claimed = store
        .claim("another-process", now, Duration::from_secs(60), 10)
        .await
        .unwrap();
    let keys: Vec<&str> = claimed
        .iter()
        .map(|job| job.request.record_key.as_str())
        .collect();
    assert_eq!(keys, vec!["evt-b"]);
    store.release(&claimed[0].lease, now).await.unwrap();

    // A restart finishes B exactly once (its first create never completed).
    crm.unhold("evt-b");
    let restarted = fixture.app().await;
    let settled = restarted.runner().run_until_idle().await.unwrap();
    assert_eq!(settled, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(crm.records_for("evt-b").len(), 1);
    assert!(crm.records_for("evt-c").is_empty());
}

/// Notifies `evt-<from>`..`evt-<to>` one after the other; the ids answered 200.
async fn post_range(base: String, from: usize, to: usize) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    for index in from..to {
        let id = format!("evt-{index}");
        if let Ok(StatusCode::OK) = post_signed(&http, &base, &notification(&id)).await {
            acknowledged.push(id);
        }
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_burst_exits_0_and_a_restart_finishes_the_rest_exactly_once() {
    const EVENTS: usize = 60;
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    crm.slow_down(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    for index in 0..EVENTS {
        nylas.put_event(event(
            &format!("evt-{index}"),
            "grant-1",
            "primary",
            "Call",
            100,
        ));
    }
    let workers = [("CALSYNC__SYNC__WORKERS", "4")];
    let mut first = Daemon::start(dir.path(), &nylas, &crm, &workers).await;
    let mut acknowledged = post_range(first.base.clone(), 0, EVENTS / 2).await;
    assert_eq!(acknowledged.len(), EVENTS / 2);
    // The rest of the burst keeps arriving while the daemon shuts down.
    let late = tokio::spawn(post_range(first.base.clone(), EVENTS / 2, EVENTS));
    assert!(
        first
            .wait_for(LIMIT, || !crm.live_records().is_empty())
            .await
    );
    assert_eq!(first.terminate().await, Some(0));
    acknowledged.extend(late.await.unwrap());
    let synced_by_first = crm.live_records().len();
    assert!(
        synced_by_first < acknowledged.len(),
        "the first process left work for the restart ({synced_by_first} synced)"
    );

    let mut second = Daemon::start(dir.path(), &nylas, &crm, &workers).await;
    let all = second
        .wait_for(Duration::from_secs(60), || {
            acknowledged
                .iter()
                .all(|id| !crm.records_for(id).is_empty())
        })
        .await;
    assert!(all, "every acknowledged notification reaches the CRM");
    for id in &acknowledged {
        assert_eq!(crm.records_for(id).len(), 1, "{id} is synced exactly once");
    }
    assert_eq!(second.terminate().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_and_loses_nothing() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let dir = tempfile::tempdir().unwrap();
    nylas.put_event(event("evt-stuck", "grant-1", "primary", "Call", 100));
    let stuck = crm.hold("evt-stuck");
    let patient = [("CALSYNC__SERVER__SHUTDOWN_TIMEOUT", "120s")];
    let mut first = Daemon::start(dir.path(), &nylas, &crm, &patient).await;
    assert_eq!(
        first.notify(&notification("evt-stuck")).await,
        StatusCode::OK
    );
    tokio::time::timeout(LIMIT, stuck.arrived()).await.unwrap();

    first.signal(Signal::SIGTERM);
    let draining = first
        .wait_for_status("/readyz", StatusCode::SERVICE_UNAVAILABLE, LIMIT)
        .await;
    assert!(draining, "the first signal starts draining");
    first.signal(Signal::SIGINT);
    let code = first.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(code, Some(130), "a forced exit is not a clean one");

    // The job it abandoned is still in the store; a restart syncs it once.
    crm.unhold("evt-stuck");
    let mut second = Daemon::start(dir.path(), &nylas, &crm, &[]).await;
    let synced = second
        .wait_for(LIMIT, || !crm.records_for("evt-stuck").is_empty())
        .await;
    assert!(synced);
    assert_eq!(crm.records_for("evt-stuck").len(), 1);
    assert_eq!(second.terminate().await, Some(0));
}
