//! Outages and throttles slow the whole target down instead of burning every job's attempts;
//! one event the CRM rejects is dead-lettered while the others flow, and `dlq retry` revives it.

use std::time::Duration;

use calsync::commands::dlq;
use calsync::store::DeadLetterSelection;
use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use reqwest::StatusCode;
use tokio::time::Instant;

use crate::support::fake_crm::Scripted;
use crate::support::harness::TestApp;
use crate::support::payloads::{envelope, event};

const GRANT: &str = "grant-1";

async fn notify_events(app: &TestApp, count: usize) {
    for index in 0..count {
        let object = event(&format!("evt-{index}"), GRANT, "primary", "Call", 100);
        app.nylas.put_event(object.clone());
        let status = app
            .notify(&envelope(&format!("n-{index}"), "event.created", object))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
}

/// Drains, then moves paused time on by `step`, until `done` holds (at most `limit` of time).
async fn run_until(
    app: &TestApp,
    step: Duration,
    limit: Duration,
    mut done: impl FnMut() -> bool,
) -> Vec<Settled> {
    let started = Instant::now();
    let mut settled = Vec::new();
    while !done() {
        assert!(started.elapsed() < limit, "not done after {limit:?}");
        settled.extend(app.drain().await);
        tokio::time::advance(step).await;
    }
    settled
}

#[tokio::test(start_paused = true)]
async fn a_crm_down_for_two_hours_loses_nothing_and_is_not_hammered() {
    const EVENTS: usize = 20;
    const OUTAGE: Duration = Duration::from_secs(2 * 3600);
    // Defaults: retry_initial 1s, retry_max 10m, max_attempts 12.
    let app = TestApp::builder().tokio_clock().spawn().await;
    app.crm.go_down(503);
    notify_events(&app, EVENTS).await;

    let started = Instant::now();
    let during = run_until(&app, Duration::from_secs(30), OUTAGE * 2, || {
        started.elapsed() >= OUTAGE
    })
    .await;
    let requests = app.crm.requests().len();
    assert!(!during.contains(&Settled::DeadLettered), "{during:?}");
    // Bounded by the back-off (the first two failures, the ramp up to retry_max, then about one
    // probe per half retry_max), not by jobs × attempts (240).
    let bound = 2 + 12 + (OUTAGE.as_secs() / 300) as usize;
    assert!(
        (3..=bound).contains(&requests),
        "{requests} CRM requests during the outage (bound {bound})"
    );
    let counted = during
        .iter()
        .filter(|s| matches!(s, Settled::RetryLater(_)))
        .count();
    assert!(counted <= 1, "only the first failure counts: {during:?}");

    app.crm.recover();
    let after = run_until(
        &app,
        Duration::from_secs(30),
        Duration::from_secs(1800),
        || app.crm.live_records().len() >= EVENTS,
    )
    .await;
    assert!(!after.contains(&Settled::DeadLettered), "{after:?}");
    for index in 0..EVENTS {
        assert_eq!(
            app.crm.records_for(&format!("evt-{index}")).len(),
            1,
            "evt-{index}"
        );
    }
    let stats = app.store.job_stats(app.parts.clock.now()).await.unwrap();
    assert_eq!((stats.pending, stats.retrying, stats.dead), (0, 0, 0));
    assert!(
        app.metrics()
            .await
            .contains(r#"calsync_target_paused{target="crm:rest"} 0"#)
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_holds_back_every_crm_request_for_that_long() {
    let app = TestApp::builder().tokio_clock().spawn().await;
    app.crm.script([Scripted {
        status: 429,
        retry_after: Some("2".into()),
    }]);
    notify_events(&app, 3).await;

    // The throttled job waits without counting an attempt, and no other job is even claimed.
    assert_eq!(
        app.drain().await,
        vec![Settled::Deferred(Duration::from_secs(2))]
    );
    assert_eq!(app.crm.requests().len(), 1);
    assert!(
        app.metrics()
            .await
            .contains(r#"calsync_target_paused{target="crm:rest"} 1"#)
    );

    run_until(
        &app,
        Duration::from_millis(100),
        Duration::from_secs(60),
        || app.crm.live_records().len() >= 3,
    )
    .await;
    let times = app.crm.request_times();
    // The throttled create; then its retry (a look-up, since the create's fate was unknown, and
    // the create) and the two other creates.
    assert_eq!(times.len(), 5, "{:?}", app.crm.requests());
    for later in &times[1..] {
        assert!(*later - times[0] >= Duration::from_secs(2), "{times:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_nylas_429_on_fetch_is_retried_after_the_time_asked() {
    let app = TestApp::builder().tokio_clock().spawn().await;
    app.nylas.script([Scripted {
        status: 429,
        retry_after: Some("1".into()),
    }]);
    notify_events(&app, 2).await;

    assert_eq!(
        app.drain().await,
        vec![Settled::Deferred(Duration::from_secs(1))]
    );
    assert_eq!(
        app.nylas.event_reads(),
        1,
        "every Nylas request is held back"
    );
    assert_eq!(app.drain().await, vec![]);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        app.drain().await,
        vec![
            Settled::Done(SyncOutcome::Created),
            Settled::Done(SyncOutcome::Created)
        ]
    );
    assert_eq!(app.nylas.event_reads(), 3);
    assert_eq!(app.crm.live_records().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_nylas_outage_holds_back_the_work_and_costs_no_attempts() {
    let app = TestApp::builder()
        .tokio_clock()
        .with_config(|settings| settings.sync.max_attempts = 2)
        .spawn()
        .await;
    app.nylas.go_down(502);
    notify_events(&app, 5).await;
    let started = Instant::now();
    let during = run_until(
        &app,
        Duration::from_secs(30),
        Duration::from_secs(7200),
        || started.elapsed() >= Duration::from_secs(3600),
    )
    .await;
    assert!(!during.contains(&Settled::DeadLettered), "{during:?}");
    app.nylas.recover();
    run_until(
        &app,
        Duration::from_secs(30),
        Duration::from_secs(1800),
        || app.crm.live_records().len() >= 5,
    )
    .await;
    assert!(app.store.list_dead_letters(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_event_the_crm_rejects_is_dead_lettered_while_others_sync_and_dlq_retry_revives_it() {
    let app = TestApp::spawn().await;
    app.crm.poison("evt-1", 422);
    notify_events(&app, 3).await;

    let settled = app.drain().await;
    assert_eq!(settled.len(), 3, "{settled:?}");
    assert_eq!(
        settled
            .iter()
            .filter(|s| **s == Settled::DeadLettered)
            .count(),
        1
    );
    assert_eq!(app.crm.live_records().len(), 2);
    let letters = app.store.list_dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].request.record_key, "evt-1");
    assert!(letters[0].attempts <= 3, "at most a few attempts");
    assert!(
        letters[0].last_error.contains("422"),
        "{}",
        letters[0].last_error
    );

    // The operator fixes the CRM side, then requeues the dead letter.
    app.crm.cure("evt-1");
    let now = app.parts.clock.now();
    let report = dlq::retry(
        app.store.as_ref(),
        &DeadLetterSelection::Ids(vec![letters[0].id, 4242]),
        now,
    )
    .await
    .unwrap();
    assert_eq!(report.requeued, 1);
    assert_eq!(report.unknown, vec![4242]);
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(app.crm.records_for("evt-1").len(), 1);
    assert!(app.store.list_dead_letters(10).await.unwrap().is_empty());
}
