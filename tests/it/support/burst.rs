//! The burst the issue-13 measurements send (`coalescing::measure`, `hubspot::measure`,
//! `salesforce::measure`): 1,000 events × 10 edits, sent round-robin by 16 concurrent clients
//! through the real router to a running worker pool, then drained. Measurements only (wall
//! clock): the caller prints counts.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;

use super::harness::{CrmFake, TestApp};
use super::payloads::{envelope, event};

/// Events in the burst.
pub const BURST_EVENTS: usize = 1_000;
/// Edits of each event.
pub const BURST_EDITS: usize = 10;

/// An app writing to the `crm` fake as a batch measurement runs it: default coalescing (1s
/// window, 10s at most) and `crm.batch_size` from `CALSYNC_MEASURE_BATCH_SIZE`, else
/// `default_batch` (the kind's default). Returns the app and the batch size used.
pub async fn batching_app(crm: CrmFake, default_batch: &str) -> (TestApp, String) {
    let batch_size =
        std::env::var("CALSYNC_MEASURE_BATCH_SIZE").unwrap_or_else(|_| default_batch.to_owned());
    let app = TestApp::builder()
        .crm(crm)
        .env("CALSYNC__CRM__BATCH_SIZE", &batch_size)
        .with_config(|settings| {
            settings.sync.coalesce_window = Duration::from_secs(1);
            settings.sync.coalesce_max_delay = Duration::from_secs(10);
        })
        .spawn()
        .await;
    (app, batch_size)
}

/// The title of an event's last edit (what every CRM record must end with).
pub fn last_title() -> String {
    format!("Call, edit {}", BURST_EDITS - 1)
}

/// Sends the burst for `grant` with the worker pool running, waits until the queue is empty,
/// and stops the pool; returns how long sending took and how long until the queue drained.
pub async fn send_and_drain(app: &TestApp, grant: &str) -> (Duration, Duration) {
    let stop = tokio_util::sync::CancellationToken::new();
    let workers = {
        let runner = app.runner.clone();
        let stop = stop.clone();
        tokio::spawn(async move { runner.run(stop, Duration::from_secs(30)).await })
    };
    let started = tokio::time::Instant::now();
    let sends = (0..BURST_EDITS).flat_map(|edit| (0..BURST_EVENTS).map(move |e| (e, edit)));
    futures::stream::iter(sends)
        .for_each_concurrent(16, |(index, edit)| async move {
            let id = format!("evt-{index}");
            let title = format!("Call, edit {edit}");
            let version = 1_780_000_000 + edit as i64;
            let object = event(&id, grant, "primary", &title, version);
            app.nylas.put_event(object.clone());
            let envelope = envelope(&format!("n-{index}-{edit}"), "event.updated", object);
            assert_eq!(app.notify(&envelope).await, StatusCode::OK);
        })
        .await;
    let sent_in = started.elapsed();
    while app.store.next_due_at().await.unwrap().is_some() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    workers.await.unwrap();
    (sent_in, started.elapsed())
}
