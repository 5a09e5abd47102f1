//! When a HubSpot batch is sent, through the real worker pool on paused tokio time: as soon as
//! every running job has joined it, never at the end of a long linger it does not need. A lone
//! change is written at once; jobs of one claim that reach their write seconds apart (slow
//! Nylas reads) still share one request; a job slower than the linger does not hold its
//! batch-mates longer than the linger. The assertions read tokio's paused clock, so they say
//! which rule sent the batch, not how fast the machine is.

use std::time::Duration;

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use tokio::time::Instant;

use super::batch::{UPSERT, count, publish_events};
use super::hub;
use crate::support::crm_app::app;
use crate::support::harness::{CrmFake, TestApp};

/// A batching app on paused time whose batches may wait up to `linger` for running jobs.
async fn long_linger_app(linger: &str) -> TestApp {
    let env = [
        ("CALSYNC__CRM__BATCH_SIZE", "100"),
        ("CALSYNC__CRM__BATCH_LINGER", linger),
    ];
    app(CrmFake::HubSpot, &env, true).await
}

/// Runs every due job at once (one claim), checks that each created its meeting, and returns
/// how long that took on the paused clock.
async fn drain_creating(app: &TestApp, created: usize) -> Duration {
    let started = Instant::now();
    let settled = app.drain_concurrently().await;
    let done = count(&settled, &Settled::Done(SyncOutcome::Created));
    assert_eq!(done, created, "{settled:?}");
    started.elapsed()
}

#[tokio::test]
async fn a_lone_change_is_written_at_once_whatever_the_linger() {
    let app = long_linger_app("20s").await;
    publish_events(&app, 1).await;
    let elapsed = drain_creating(&app, 1).await;
    assert_eq!(hub(&app).requests_to(UPSERT), 1);
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
}

#[tokio::test]
async fn jobs_reaching_their_write_apart_share_one_request_sent_when_the_last_joins() {
    let app = long_linger_app("20s").await;
    app.nylas.slow_read("evt-1", Duration::from_secs(4));
    app.nylas.slow_read("evt-2", Duration::from_secs(8));
    publish_events(&app, 3).await;
    let elapsed = drain_creating(&app, 3).await;
    assert_eq!(hub(&app).requests_to(UPSERT), 1);
    assert!(
        elapsed >= Duration::from_secs(8),
        "sent before the last job joined: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(20),
        "waited for the linger: {elapsed:?}"
    );
}

#[tokio::test]
async fn a_job_slower_than_the_linger_does_not_hold_its_batch_mates_longer() {
    // Slower than the linger, within `nylas.timeout` (10 s).
    let app = long_linger_app("5s").await;
    app.nylas.slow_read("evt-2", Duration::from_secs(8));
    publish_events(&app, 3).await;
    let elapsed = drain_creating(&app, 3).await;
    // evt-0 and evt-1 at the linger's end; evt-2 alone once its read answers.
    assert_eq!(hub(&app).requests_to(UPSERT), 2);
    assert_eq!(hub(&app).meetings_for("evt-2").len(), 1);
    assert!(elapsed >= Duration::from_secs(8), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(13),
        "the last job waited again: {elapsed:?}"
    );
}
