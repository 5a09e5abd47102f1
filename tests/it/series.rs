//! Recurring series (issue 9): a master is a rule, never a CRM record; each occurrence up to
//! `sync.series_horizon` is one record. Driven through the real router and workers against the
//! fake Nylas (`master_event_id` listings) and CRM, with exact CRM call counts.

mod world;

use std::time::Duration;

use calsync::backfill::{self, BackfillOptions, ProgressMode, Window};
use calsync::worker::settle::Settled;
use jiff::Timestamp;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use crate::support::fake_nylas::PageFailure;
use crate::support::harness::TestApp;
use crate::support::payloads::deleted_object;
use world::*;

/// Occurrences of a weekly series starting a day from now that the 90-day horizon holds:
/// day 1 + 7k ≤ 90, k = 0..=12.
const IN_HORIZON: i64 = 13;

fn now() -> i64 {
    Timestamp::now().as_second()
}

/// A 15-week series starting a day after `now`, its master notified and every job drained.
async fn notified_series(app: &TestApp, now: i64) -> Weekly {
    account(&app.nylas);
    let series = Weekly {
        first: now + DAY,
        weeks: 15,
        version: now - 3_600,
    };
    series.put(&app.nylas);
    notify(app, "n-created", "event.created", series.master(&[])).await;
    app.drain().await;
    series
}

#[tokio::test]
async fn a_notified_then_backfilled_weekly_series_has_one_record_per_occurrence_and_none_for_its_master()
 {
    let app = TestApp::spawn().await;
    let now = now();
    let series = notified_series(&app, now).await;
    assert_eq!(live_ids(&app), series.ids(0..IN_HORIZON));
    assert_eq!(app.crm.count("POST"), IN_HORIZON as usize);
    assert_eq!(app.crm.requests().len(), IN_HORIZON as usize);
    assert!(app.crm.records_for(MASTER).is_empty(), "a master is a rule");
    let listed = app.nylas.list_requests("events");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].param("master_event_id"), Some(MASTER));

    app.crm.reset_counts();
    let summary = backfill::run(
        app.app.backfill_deps(),
        BackfillOptions {
            window: Window {
                start: now - DAY,
                end: now + 150 * DAY,
            },
            grants: Vec::new(),
            concurrency: 1,
        },
        ProgressMode::Log,
        CancellationToken::new(),
    )
    .await
    .expect("the backfill runs");
    assert!(summary.succeeded(), "{summary}");
    app.drain().await;
    assert!(
        app.crm.requests().is_empty(),
        "nothing changed: {:?}",
        app.crm.requests()
    );
    assert_eq!(live_ids(&app), series.ids(0..IN_HORIZON));
    for id in series.ids(0..IN_HORIZON) {
        assert_eq!(app.crm.records_for(&id).len(), 1, "{id} once");
    }
}

#[tokio::test]
async fn an_exdate_removes_that_occurrence_alone_and_a_deleted_series_removes_every_occurrence() {
    let app = TestApp::spawn().await;
    let series = notified_series(&app, now()).await;
    app.crm.reset_counts();

    // Outlook: deleting occurrence 2 adds an EXDATE to the master (an update, no delete).
    let edited = Weekly {
        version: series.version + 60,
        ..series
    };
    app.nylas.put_event(edited.master(&[2]));
    app.nylas.remove_event(G1, &series.id(2));
    notify(&app, "n-exdate", "event.updated", edited.master(&[2])).await;
    app.drain().await;
    assert_eq!(app.crm.requests().len(), 1, "{:?}", app.crm.requests());
    assert_eq!(app.crm.count("DELETE"), 1);
    assert!(app.crm.records_for(&series.id(2))[0].deleted);
    let mut expected = series.ids(0..IN_HORIZON);
    expected.retain(|id| *id != series.id(2));
    assert_eq!(live_ids(&app), expected);

    // The whole series deleted.
    app.crm.reset_counts();
    app.nylas.remove_event(G1, MASTER);
    for k in 0..series.weeks {
        app.nylas.remove_event(G1, &series.id(k));
    }
    notify(
        &app,
        "n-deleted",
        "event.deleted",
        deleted_object(MASTER, G1, CAL),
    )
    .await;
    app.drain().await;
    assert_eq!(app.crm.count("DELETE"), IN_HORIZON as usize - 1);
    assert_eq!(app.crm.requests().len(), IN_HORIZON as usize - 1);
    assert!(live_ids(&app).is_empty());
}

#[tokio::test]
async fn a_listing_that_fails_midway_removes_nothing() {
    let app = TestApp::builder()
        .env("CALSYNC__SYNC__RETRY_INITIAL", "5m")
        .spawn()
        .await;
    app.nylas.set_page_sizes(4, 10);
    let series = notified_series(&app, now()).await;
    assert_eq!(live_ids(&app).len(), IN_HORIZON as usize);
    app.crm.reset_counts();

    // Occurrence 12 is gone, but the listing's second page fails.
    app.nylas.remove_event(G1, &series.id(12));
    app.nylas.fail_page(PageFailure {
        calendar_id: CAL.to_string(),
        page_token: Some("evt-0-4".to_string()),
        status: 500,
    });
    notify(&app, "n-update", "event.updated", series.master(&[12])).await;
    let settled = app.drain().await;
    assert!(
        settled.iter().any(|s| matches!(s, Settled::RetryLater(_))),
        "the series job retries later: {settled:?}"
    );
    assert!(app.crm.requests().is_empty(), "{:?}", app.crm.requests());
    assert_eq!(live_ids(&app).len(), IN_HORIZON as usize);

    // A complete listing removes it.
    app.nylas.heal_pages();
    notify(&app, "n-again", "event.updated", series.master(&[12])).await;
    app.drain().await;
    assert_eq!(app.crm.requests().len(), 1, "{:?}", app.crm.requests());
    assert_eq!(app.crm.count("DELETE"), 1);
    assert!(app.crm.records_for(&series.id(12))[0].deleted);
}

#[tokio::test(start_paused = true)]
async fn the_horizon_rolls_forward_and_adds_occurrences_without_a_notification() {
    let app = TestApp::builder().tokio_clock().spawn().await;
    let t0 = app.fixture.clock.now().as_second();
    let series = notified_series(&app, t0).await;
    assert_eq!(live_ids(&app), series.ids(0..IN_HORIZON));
    app.crm.reset_counts();

    // Two weeks later the horizon reaches day 104: occurrences 13 and 14 (days 92 and 99).
    tokio::time::advance(Duration::from_secs(14 * DAY as u64)).await;
    let reconciler = app.app.reconciler(CancellationToken::new());
    let report = reconciler
        .run_once(app.fixture.clock.now())
        .await
        .expect("a pass");
    assert!(report.ran);
    app.drain().await;
    assert_eq!(
        (
            app.crm.count("POST"),
            app.crm.count("PUT"),
            app.crm.count("DELETE")
        ),
        (2, 0, 0),
        "{:?}",
        app.crm.requests()
    );
    assert_eq!(live_ids(&app), series.ids(0..IN_HORIZON + 2));

    // The next pass, the same day, re-reads nothing.
    app.nylas.clear_requests();
    app.crm.reset_counts();
    reconciler
        .run_once(app.fixture.clock.now())
        .await
        .expect("a pass");
    app.drain().await;
    assert!(app.crm.requests().is_empty());
    assert!(
        app.nylas
            .list_requests("events")
            .iter()
            .all(|r| r.param("master_event_id").is_none())
    );
}

#[tokio::test]
async fn upgrading_removes_the_record_an_earlier_version_wrote_for_a_master() {
    let app = TestApp::spawn().await;
    account(&app.nylas);
    let now = now();
    let series = Weekly {
        first: now + DAY,
        weeks: 5,
        version: now - 3_600,
    };
    series.put(&app.nylas);

    // An earlier calsync wrote the master and each occurrence as records of their own.
    let mut legacy = vec![legacy_job(&series.master(&[]))];
    legacy.extend((0..series.weeks).map(|k| legacy_job(&series.occurrence(k))));
    let at = Timestamp::now();
    app.store.enqueue(&legacy, at).await.unwrap();
    let processor = &app.parts.processor;
    let policy = calsync::app::retry_policy(&app.fixture.settings);
    for job in &legacy {
        let claimed = app
            .store
            .claim_key(&job.record_key, "calsync-0.1", at, Duration::from_secs(60))
            .await
            .unwrap()
            .expect("claimable");
        let result = processor.sync(&claimed).await;
        processor.settle(&claimed, result, &policy).await.unwrap();
    }
    assert_eq!(app.crm.records_for(MASTER).len(), 1);
    assert_eq!(app.crm.live_records().len(), 6);

    // Its database had no series tables: the new version migrates it in place.
    let url = app.fixture.settings.store.url.expose_secret().to_string();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for statement in [
        "DROP TABLE series_occurrences",
        "DROP TABLE series",
        "DELETE FROM _sqlx_migrations WHERE version = 2",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let upgraded = app.reopen().await;
    app.crm.reset_counts();

    // The series is re-read (any notification of the master).
    notify(&upgraded, "n-upd", "event.updated", series.master(&[])).await;
    upgraded.drain().await;
    assert_eq!(app.crm.requests().len(), 1, "{:?}", app.crm.requests());
    assert_eq!(app.crm.count("DELETE"), 1);
    assert!(app.crm.records_for(MASTER)[0].deleted);
    assert_eq!(live_ids(&upgraded), series.ids(0..series.weeks));
    for id in series.ids(0..series.weeks) {
        assert_eq!(app.crm.records_for(&id).len(), 1, "{id} once");
    }
    assert!(
        upgraded
            .metrics()
            .await
            .contains("calsync_series_master_records_removed_total 1"),
        "counted"
    );

    // Re-read again: nothing left to remove.
    app.crm.reset_counts();
    notify(&upgraded, "n-upd-2", "event.updated", series.master(&[])).await;
    upgraded.drain().await;
    assert!(app.crm.requests().is_empty());
}

#[tokio::test]
async fn an_occurrence_notified_alone_is_removed_with_its_series_and_a_master_gone_on_read_removes_all()
 {
    let app = TestApp::spawn().await;
    account(&app.nylas);
    let now = now();
    let series = Weekly {
        first: now + DAY,
        weeks: 3,
        version: now - 3_600,
    };
    series.put(&app.nylas);
    // Google notifies an edited occurrence on its own; the series was never expanded.
    notify(&app, "n-occ", "event.updated", series.occurrence(1)).await;
    app.drain().await;
    assert_eq!(live_ids(&app), series.ids(1..2));
    app.crm.reset_counts();

    // The master is gone when read (hard-deleted; its notification was lost): a later
    // notification of it finds 404 and removes the occurrence it knows.
    app.nylas.remove_event(G1, MASTER);
    for k in 0..series.weeks {
        app.nylas.remove_event(G1, &series.id(k));
    }
    notify(&app, "n-master", "event.updated", series.master(&[])).await;
    app.drain().await;
    assert_eq!(
        (app.crm.count("DELETE"), app.crm.requests().len()),
        (1, 1),
        "{:?}",
        app.crm.requests()
    );
    assert!(live_ids(&app).is_empty());
}

#[tokio::test]
async fn a_trusted_master_payload_is_expanded_without_reading_the_master() {
    let app = TestApp::builder()
        .with_config(|settings| settings.nylas.fetch = calsync::config::FetchPolicy::WhenIncomplete)
        .spawn()
        .await;
    let series = notified_series(&app, now()).await;
    assert_eq!(app.nylas.event_reads(), 0, "the payload was complete");
    assert_eq!(live_ids(&app), series.ids(0..IN_HORIZON));
    assert!(app.crm.records_for(MASTER).is_empty());
}
