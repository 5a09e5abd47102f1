//! Retry schedules and the CRM rate cap.

use std::time::Duration;

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use crate::support::fake_crm::Scripted;
use crate::support::harness::TestApp;
use crate::support::payloads::{envelope, event};

const GRANT: &str = "grant-1";

/// Puts `evt-<index>` in the fake Nylas and notifies the app of it.
async fn notify_event(app: &TestApp, index: usize) {
    let object = event(&format!("evt-{index}"), GRANT, "primary", "Call", 100);
    app.nylas.put_event(object.clone());
    let status = app
        .notify(&envelope(&format!("n-{index}"), "event.created", object))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_retry_schedule_survives_a_restart() {
    let app = TestApp::builder().tokio_clock().spawn().await;
    app.crm.script([Scripted {
        status: 503,
        retry_after: Some("120".into()),
    }]);
    notify_event(&app, 0).await;
    assert_eq!(
        app.drain().await,
        vec![Settled::RetryLater(Duration::from_secs(120))]
    );
    let due = app
        .store
        .next_due_at()
        .await
        .unwrap()
        .expect("a job is due later");
    let clock = app.parts.clock;
    // Stored at millisecond precision.
    let until = clock.until(due);
    assert!(
        until > Duration::from_millis(119_990) && until <= Duration::from_secs(120),
        "{until:?}"
    );

    // A second process on the same file keeps the schedule: nothing runs before it is due.
    let restarted = app.reopen().await;
    assert_eq!(restarted.store.next_due_at().await.unwrap(), Some(due));
    assert_eq!(restarted.drain().await, vec![]);
    tokio::time::advance(Duration::from_secs(119)).await;
    assert_eq!(restarted.drain().await, vec![]);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        restarted.drain().await,
        vec![Settled::Done(SyncOutcome::Created)]
    );
    assert_eq!(app.crm.records_for("evt-0").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn one_event_failing_while_others_succeed_backs_off_then_is_dead_lettered() {
    let app = TestApp::builder()
        .tokio_clock()
        .with_config(|settings| settings.sync.max_attempts = 3)
        .spawn()
        .await;
    // A 500 only for this record: the CRM works for everyone else.
    app.crm.poison("evt-0", 500);
    for index in 0..3 {
        notify_event(&app, index).await;
    }
    let settled = app.drain().await;
    let Some(Settled::RetryLater(first)) = settled.iter().find(|s| !matches!(s, Settled::Done(_)))
    else {
        panic!("evt-0 should be retried: {settled:?}");
    };
    assert!(
        *first >= Duration::from_millis(500) && *first <= Duration::from_secs(1),
        "{first:?}"
    );
    assert_eq!(app.crm.live_records().len(), 2, "the others synced");

    tokio::time::advance(*first).await;
    let settled = app.drain().await;
    let [Settled::RetryLater(second)] = settled.as_slice() else {
        panic!("the second failure backs off further: {settled:?}");
    };
    assert!(
        *second >= Duration::from_secs(1) && *second <= Duration::from_secs(2),
        "{second:?}"
    );
    tokio::time::advance(*second).await;
    assert_eq!(app.drain().await, vec![Settled::DeadLettered]);

    let letters = app.store.list_dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].request.record_key, "evt-0");
    assert_eq!(letters[0].attempts, 3);
    assert!(
        letters[0].last_error.contains("500"),
        "{}",
        letters[0].last_error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crm_rate_cap_holds_across_all_workers() {
    const EVENTS: usize = 20;
    const RATE: u32 = 10;
    let app = TestApp::builder()
        .with_config(|settings| {
            settings.sync.crm_requests_per_second = RATE;
            settings.sync.workers = 8;
        })
        .spawn()
        .await;
    for index in 0..EVENTS {
        notify_event(&app, index).await;
    }
    let stop = CancellationToken::new();
    let pool = {
        let runner = app.runner.clone();
        let stop = stop.clone();
        tokio::spawn(async move { runner.run(stop, Duration::from_secs(5)).await })
    };
    assert!(
        app.crm.wait_for_live(EVENTS, Duration::from_secs(60)).await,
        "only {} records",
        app.crm.live_records().len()
    );
    stop.cancel();
    pool.await.unwrap();

    // A token bucket of RATE per second with a burst of RATE: the requests beyond the burst
    // are spaced 1/RATE apart, whichever worker sends them.
    let times = app.crm.request_times();
    assert_eq!(times.len(), EVENTS, "one create per event");
    let span = *times.last().unwrap() - times[0];
    let floor = Duration::from_secs(1) * (EVENTS as u32 - RATE) / RATE;
    assert!(
        span >= floor.mul_f64(0.9),
        "{EVENTS} requests within {span:?}"
    );
}
