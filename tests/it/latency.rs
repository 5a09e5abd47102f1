//! Latency of a single notification with an idle queue (issue 13): from the POST to the moment
//! the CRM fake receives the meeting's write, through the real router, store and worker pool on
//! the wall clock. A measurement run by hand, never a timed assertion:
//!
//! ```sh
//! cargo test --release --test it latency::measure -- --ignored --nocapture
//! ```
//!
//! Events are sent one at a time: the next only once the previous one's write arrived, so every
//! notification finds the queue idle. Two rounds: default settings (`sync.coalesce_window` 1 s,
//! the target is 100 ms plus the window) and a zero window (what the pipeline itself costs).
//! `CALSYNC_MEASURE_EVENTS` sets the number of events per round (default 1,000).

use std::time::Duration;

use calsync::config::SyncSettings;
use reqwest::{Method, StatusCode};

use crate::support::harness::TestApp;
use crate::support::payloads::{envelope, event};

const GRANT: &str = "grant-1";

/// Events per round unless `CALSYNC_MEASURE_EVENTS` says otherwise.
const DEFAULT_EVENTS: usize = 1_000;

#[tokio::test]
#[ignore = "a measurement, not a test: run by hand with --release --nocapture"]
async fn measure_single_notification_latency() {
    let events = std::env::var("CALSYNC_MEASURE_EVENTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_EVENTS);
    let defaults = SyncSettings::default();
    for window in [defaults.coalesce_window, Duration::ZERO] {
        let max_delay = defaults.coalesce_max_delay;
        let app = TestApp::builder()
            .with_config(move |settings| {
                settings.sync.coalesce_window = window;
                settings.sync.coalesce_max_delay = max_delay;
            })
            .spawn()
            .await;
        let stop = tokio_util::sync::CancellationToken::new();
        let workers = {
            let runner = app.runner.clone();
            let stop = stop.clone();
            tokio::spawn(async move { runner.run(stop, Duration::from_secs(30)).await })
        };
        let mut latencies = Vec::with_capacity(events);
        for index in 0..events {
            let id = format!("evt-latency-{index}");
            let object = event(&id, GRANT, "primary", "Pricing call", 1_780_000_000);
            app.nylas.put_event(object.clone());
            let sent = tokio::time::Instant::now();
            let notification = envelope(&format!("n-latency-{index}"), "event.created", object);
            assert_eq!(app.notify(&notification).await, StatusCode::OK);
            assert!(
                app.crm
                    .wait_for_live(index + 1, Duration::from_secs(60))
                    .await,
                "event {index} reached the CRM"
            );
            latencies.push(last_write_time(&app) - sent);
        }
        stop.cancel();
        workers.await.unwrap();
        latencies.sort_unstable();
        let at = |percent: usize| latencies[(latencies.len() * percent).div_ceil(100).max(1) - 1];
        println!(
            "coalesce_window={window:?}: {events} sequential events, notification -> CRM write \
             p50 {:?}, p99 {:?}, max {:?} (target: 100ms + window)",
            at(50),
            at(99),
            latencies[latencies.len() - 1],
        );
    }
}

/// When the CRM fake received the latest write (a request other than a read).
fn last_write_time(app: &TestApp) -> tokio::time::Instant {
    let requests = app.crm.requests();
    let times = app.crm.request_times();
    requests
        .iter()
        .zip(times)
        .rev()
        .find(|((method, _), _)| *method != Method::GET)
        .map(|(_, time)| time)
        .expect("a write reached the CRM")
}
