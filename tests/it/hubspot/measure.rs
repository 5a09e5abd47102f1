//! A measurement of batch writes, run by hand (`cargo test --release --test it
//! hubspot::measure -- --ignored --nocapture`): a burst of 1,000 events × 10 edits sent
//! round-robin by 16 concurrent clients to the running worker pool (wall clock, default
//! coalescing and batching settings) against the fake HubSpot; prints the HubSpot write requests
//! per event. It checks only that every event ends with one meeting holding its last edit (the
//! counts depend on the machine's speed). `CALSYNC_MEASURE_BATCH_SIZE=1` measures the same burst
//! without batching, for comparison.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;

use crate::support::fake_vendor::Recorded;
use crate::support::harness::{CrmFake, TestApp};
use crate::support::payloads::{envelope, event};

const BURST_EVENTS: usize = 1_000;
const BURST_EDITS: usize = 10;

#[tokio::test]
#[ignore = "a measurement, not a test: run by hand with --nocapture"]
async fn measure_burst_write_requests_per_event() {
    let batch_size = std::env::var("CALSYNC_MEASURE_BATCH_SIZE").unwrap_or_else(|_| "100".into());
    let app = TestApp::builder()
        .crm(CrmFake::HubSpot)
        .env("CALSYNC__CRM__BATCH_SIZE", &batch_size)
        .with_config(|settings| {
            settings.sync.coalesce_window = Duration::from_secs(1);
            settings.sync.coalesce_max_delay = Duration::from_secs(10);
        })
        .spawn()
        .await;
    let hubspot = app.hubspot().clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let workers = {
        let runner = app.runner.clone();
        let stop = stop.clone();
        tokio::spawn(async move { runner.run(stop, Duration::from_secs(30)).await })
    };
    let started = tokio::time::Instant::now();
    let sends = (0..BURST_EDITS).flat_map(|edit| (0..BURST_EVENTS).map(move |e| (e, edit)));
    futures::stream::iter(sends)
        .for_each_concurrent(16, |(index, edit)| {
            let app = &app;
            async move {
                let id = format!("evt-{index}");
                let title = format!("Call, edit {edit}");
                let version = 1_780_000_000 + edit as i64;
                let object = event(&id, "grant-1", "primary", &title, version);
                app.nylas.put_event(object.clone());
                let envelope = envelope(&format!("n-{index}-{edit}"), "event.updated", object);
                assert_eq!(app.notify(&envelope).await, StatusCode::OK);
            }
        })
        .await;
    let sent_in = started.elapsed();
    while app.store.next_due_at().await.unwrap().is_some() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    workers.await.unwrap();
    for index in 0..BURST_EVENTS {
        let meetings = hubspot.meetings_for(&format!("evt-{index}"));
        assert_eq!(meetings.len(), 1, "evt-{index}");
        let last = format!("Call, edit {}", BURST_EDITS - 1);
        assert_eq!(meetings[0].prop("hs_meeting_title"), last);
    }
    let writes = hubspot.write_requests();
    println!(
        "hubspot, batch_size={batch_size}: {} notifications sent in {sent_in:?}, {writes} write requests for \
         {BURST_EVENTS} events ({:.3} per event), {} requests in all, drained in {:?}",
        BURST_EVENTS * BURST_EDITS,
        writes as f64 / BURST_EVENTS as f64,
        hubspot.requests().len(),
        started.elapsed(),
    );
}
