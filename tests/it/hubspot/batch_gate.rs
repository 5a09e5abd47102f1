//! When a HubSpot batch is sent, through the real worker: as soon as every running job has
//! joined it, never at the end of a long linger it does not need. A lone change is written at
//! once; jobs of one claim whose Nylas reads are held still share one request, sent once the
//! last of them joins; a job held past the linger does not hold its batch-mates longer than the
//! linger. Reads are held and released by the test (no sleeps); an hour-long linger makes
//! "waited for the linger" a hang that the test's limit turns into a failure.

use std::future::Future;
use std::time::Duration;

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;

use super::batch::{UPSERT, count, publish_events};
use super::hub;
use crate::support::crm_app::app;
use crate::support::harness::{CrmFake, TestApp};

/// How long a drain may take before the test fails: far below an hour-long linger.
const LIMIT: Duration = Duration::from_secs(60);

/// A batching app whose batches may wait up to `linger` for running jobs (the lease is long
/// enough to allow an hour).
async fn app_with_linger(linger: &str) -> TestApp {
    let env = [
        ("CALSYNC__CRM__BATCH_SIZE", "100"),
        ("CALSYNC__CRM__BATCH_LINGER", linger),
        ("CALSYNC__SYNC__LEASE", "3h"),
    ];
    app(CrmFake::HubSpot, &env, false).await
}

/// Runs every due job at once (one claim) beside `meanwhile`, and checks that each job created
/// its meeting; fails when the drain outlasts [`LIMIT`].
async fn drain_creating(app: &TestApp, created: usize, meanwhile: impl Future<Output = ()>) {
    let both = async { tokio::join!(app.drain_concurrently(), meanwhile).0 };
    let settled = tokio::time::timeout(LIMIT, both)
        .await
        .expect("the batch waited for its linger");
    let done = count(&settled, &Settled::Done(SyncOutcome::Created));
    assert_eq!(done, created, "{settled:?}");
}

/// Waits (bounded by [`LIMIT`]) until `condition` holds.
async fn until(condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_lone_change_is_written_at_once_whatever_the_linger() {
    let app = app_with_linger("1h").await;
    publish_events(&app, 1).await;
    drain_creating(&app, 1, async {}).await;
    assert_eq!(hub(&app).requests_to(UPSERT), 1);
}

#[tokio::test]
async fn jobs_reaching_their_write_apart_share_one_request_sent_when_the_last_joins() {
    let app = app_with_linger("1h").await;
    app.nylas.hold_read("evt-1");
    app.nylas.hold_read("evt-2");
    publish_events(&app, 3).await;
    let release = async {
        // evt-0 reaches the batch while evt-1 and evt-2 (claimed with it) are still reading.
        until(|| app.nylas.event_reads() >= 1).await;
        app.nylas.release_read("evt-1");
        app.nylas.release_read("evt-2");
    };
    drain_creating(&app, 3, release).await;
    assert_eq!(hub(&app).requests_to(UPSERT), 1, "one batch for the three");
}

#[tokio::test]
async fn a_job_held_past_the_linger_does_not_hold_its_batch_mates_longer() {
    let app = app_with_linger("1s").await;
    let hubspot = hub(&app);
    app.nylas.hold_read("evt-2");
    publish_events(&app, 3).await;
    let release = async {
        // evt-0 and evt-1 are written at the linger's end while evt-2 is still reading.
        until(|| hubspot.live_meetings().len() == 2).await;
        assert!(hubspot.meetings_for("evt-2").is_empty());
        assert_eq!(hubspot.requests_to(UPSERT), 1);
        app.nylas.release_read("evt-2");
    };
    drain_creating(&app, 3, release).await;
    assert_eq!(
        hubspot.requests_to(UPSERT),
        2,
        "evt-2 alone, once its read answered"
    );
    assert_eq!(hubspot.meetings_for("evt-2").len(), 1);
}
