//! `calsync backfill` against the fake Nylas and CRM: what is read, what is written, resuming,
//! retries, and running beside the worker.

mod cli;
mod overlap;
mod world;

use std::time::Duration;

use calsync::backfill::checkpoint::{calendar_key, run_prefix};
use calsync::backfill::{self, BackfillOptions, ProgressMode, Summary};
use calsync::sweep::watermark::{self, watermark_key};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::fake_crm::Scripted;
use crate::support::fake_nylas::PageFailure;
use crate::support::harness::TestApp;
use world::*;

async fn app() -> TestApp {
    TestApp::builder()
        .env("CALSYNC__SYNC__EXCLUDE_READ_ONLY_CALENDARS", "true")
        .env("CALSYNC__SYNC__RETRY_INITIAL", "10ms")
        .env("CALSYNC__SYNC__RETRY_MAX", "50ms")
        .spawn()
        .await
}

/// Jobs completed as `unchanged` so far (`calsync_records_total{outcome="unchanged"}`).
async fn unchanged_jobs(app: &TestApp) -> u64 {
    let metrics = app.scrape().await;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("calsync_records_total{outcome=\"unchanged\"} "))
        .map_or(0, |value| value.trim().parse().expect("a counter value"))
}

async fn backfill(app: &TestApp, options: BackfillOptions) -> Summary {
    backfill::run(
        app.app.backfill_deps(),
        options,
        ProgressMode::Log,
        CancellationToken::new(),
    )
    .await
    .expect("the backfill runs")
}

/// The team calendar's event list requests: their page tokens, in order.
fn team_tokens(app: &TestApp) -> Vec<Option<String>> {
    app.nylas
        .list_requests("events")
        .iter()
        .filter(|r| r.param("calendar_id") == Some(TEAM))
        .map(|r| r.param("page_token").map(str::to_string))
        .collect()
}

fn token(offset: usize) -> Option<String> {
    Some(format!("evt-0-{offset}"))
}

#[tokio::test]
async fn every_in_window_event_is_synced_once_and_a_second_run_writes_nothing() {
    let app = app().await;
    let expected = populate(&app.nylas);

    let summary = backfill(&app, options(&[])).await;
    assert!(summary.succeeded(), "{summary}");
    assert_eq!(synced(&app.crm), expected);
    let n = expected.len() as u64;
    assert_eq!((summary.events_seen, summary.created), (n, n), "{summary}");
    assert_eq!(summary.grants_found, 3);
    assert_eq!(summary.grants_skipped_not_valid, 1);
    assert_eq!((summary.calendars_done, summary.calendars_excluded), (3, 1));
    assert_eq!(summary.grants_done, 2);

    let cancelled = &app.crm.records_for(&occurrence(1))[0].body;
    assert_eq!(cancelled["meeting_status"], "cancelled");
    assert_eq!(cancelled["master_event_id"], "weekly");
    assert_eq!(
        app.crm.records_for(&occurrence(0))[0].body["meeting_status"],
        "confirmed"
    );

    let events = app.nylas.list_requests("events");
    let (start, end) = (T0.to_string(), (T0 + 30 * DAY).to_string());
    for request in &events {
        assert_eq!(request.param("limit"), Some("200"));
        assert_eq!(request.param("start"), Some(start.as_str()));
        assert_eq!(request.param("end"), Some(end.as_str()));
        assert_eq!(request.param("expand_recurring"), Some("true"));
        assert_eq!(request.param("show_cancelled"), Some("true"));
        assert_eq!(request.param("updated_after"), None);
        assert_ne!(request.grant.as_deref(), Some(GAMMA));
        assert_ne!(request.param("calendar_id"), Some(HOLIDAYS));
    }
    let pages = TEAM_EVENTS.div_ceil(PAGE);
    assert_eq!(
        team_tokens(&app),
        (0..pages)
            .map(|p| if p == 0 { None } else { token(p * PAGE) })
            .collect::<Vec<_>>()
    );
    let alpha_calendar_pages = app
        .nylas
        .list_requests("calendars")
        .iter()
        .filter(|r| r.grant.as_deref() == Some(ALPHA))
        .count();
    assert_eq!(alpha_calendar_pages, 2, "3 calendars in pages of 2");
    assert!(
        app.nylas
            .list_requests("calendars")
            .iter()
            .all(|r| r.grant.as_deref() != Some(GAMMA))
    );

    // Completed: the checkpoints are gone, and each calendar got a reconciliation watermark.
    let prefix = run_prefix(&options(&[]));
    assert_eq!(
        app.store
            .get_cursor(&calendar_key(&prefix, ALPHA, TEAM))
            .await
            .unwrap(),
        None
    );
    assert!(
        watermark::read(&app.store, &watermark_key(ALPHA, TEAM))
            .await
            .unwrap()
            .is_some()
    );

    app.crm.reset_counts();
    app.nylas.clear_requests();
    let jobs_before = unchanged_jobs(&app).await;
    let again = backfill(&app, options(&[])).await;
    assert!(again.succeeded(), "{again}");
    assert_eq!(
        (
            again.events_seen,
            again.unchanged,
            again.created,
            again.updated
        ),
        (n, n, 0, 0)
    );
    assert!(app.crm.requests().is_empty(), "{:?}", app.crm.requests());
    assert_eq!(
        unchanged_jobs(&app).await,
        jobs_before,
        "unchanged events are recognised before any job (the policy's record, owner included)"
    );
    assert_eq!(
        team_tokens(&app)[0],
        None,
        "a completed run starts the next one fresh"
    );
}

#[tokio::test]
async fn an_interrupted_run_resumes_from_the_last_completed_page() {
    let app = app().await;
    let expected = populate(&app.nylas);
    app.nylas.fail_page(PageFailure {
        calendar_id: TEAM.into(),
        page_token: token(2 * PAGE),
        status: 400,
    });

    let first = backfill(&app, options(&[])).await;
    assert!(!first.succeeded() && first.calendars_failed == 1, "{first}");
    assert!(first.to_string().contains(TEAM), "{first}");
    assert_eq!(
        first.events_seen,
        expected.len() as u64 - (TEAM_EVENTS - 2 * PAGE) as u64
    );
    let prefix = run_prefix(&options(&[]));
    let saved = app
        .store
        .get_cursor(&calendar_key(&prefix, ALPHA, TEAM))
        .await
        .unwrap();
    assert!(saved.unwrap().contains("evt-0-8"));

    app.nylas.heal_pages();
    app.nylas.clear_requests();
    app.crm.reset_counts();
    let second = backfill(&app, options(&[])).await;
    assert!(second.succeeded(), "{second}");
    assert_eq!(
        second.events_seen,
        (TEAM_EVENTS - 2 * PAGE) as u64,
        "only the rest is read"
    );
    assert_eq!(team_tokens(&app), vec![token(8), token(12), token(16)]);
    let others = app.nylas.list_requests("events");
    assert!(
        others.iter().all(|r| r.param("calendar_id") == Some(TEAM)),
        "done calendars are not re-read"
    );
    assert_eq!(app.crm.count("POST") as u64, second.created);
    assert_eq!(synced(&app.crm), expected);
    assert_eq!(
        app.store
            .get_cursor(&calendar_key(&prefix, ALPHA, TEAM))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_saved_page_token_nylas_no_longer_accepts_restarts_the_calendar() {
    let app = app().await;
    let expected = populate(&app.nylas);
    app.nylas.fail_page(PageFailure {
        calendar_id: TEAM.into(),
        page_token: token(8),
        status: 400,
    });
    assert!(!backfill(&app, options(&[ALPHA])).await.succeeded());

    app.nylas.heal_pages();
    app.nylas.expire_cursors();
    app.nylas.clear_requests();
    app.crm.reset_counts();
    let second = backfill(&app, options(&[ALPHA])).await;
    assert!(second.succeeded(), "{second}");
    let tokens = team_tokens(&app);
    assert_eq!(
        tokens[..2],
        [token(8), None],
        "refused, then from the first page"
    );
    assert_eq!(tokens.len(), 2 + TEAM_EVENTS.div_ceil(PAGE) - 1);
    assert_eq!(
        app.crm.count("POST") + app.crm.count("PUT"),
        TEAM_EVENTS - 2 * PAGE
    );
    let alpha: Vec<String> = expected
        .into_iter()
        .filter(|id| !id.starts_with("beta"))
        .collect();
    assert_eq!(synced(&app.crm).into_iter().collect::<Vec<_>>(), alpha);
}

#[tokio::test]
async fn nylas_429_while_listing_and_crm_429_while_writing_are_waited_out() {
    let app = app().await;
    let expected = populate(&app.nylas);
    let throttle = || Scripted {
        status: 429,
        retry_after: Some("0".into()),
    };
    app.nylas.script_for("/events", [throttle(), throttle()]);
    app.nylas.script_for("/calendars", [throttle()]);
    app.crm.script([
        throttle(),
        Scripted {
            status: 503,
            retry_after: Some("0".into()),
        },
    ]);

    let summary = backfill(&app, options(&[])).await;
    assert!(summary.succeeded(), "{summary}");
    assert_eq!(summary.failed, 0);
    assert_eq!(synced(&app.crm), expected);
    assert!(
        app.crm.requests().len() >= expected.len() + 2,
        "the failed answers were retried"
    );
    let throttled =
        app.nylas.list_requests("events").len() + app.nylas.list_requests("calendars").len();
    let pages = TEAM_EVENTS.div_ceil(PAGE) + 2 + 3; // events: team, rep, beta; calendars: 2 + 1
    assert_eq!(
        throttled,
        pages + 3,
        "every throttled list request was repeated"
    );
}

#[tokio::test]
async fn a_permanent_failure_is_a_dead_letter_and_fails_the_run() {
    let app = app().await;
    let expected = populate(&app.nylas);
    app.crm.poison("rep-1", 422);

    let summary = backfill(&app, options(&[])).await;
    assert!(!summary.succeeded(), "{summary}");
    assert!(summary.listing_complete());
    assert_eq!(summary.failed, 1);
    assert_eq!(summary.created, expected.len() as u64 - 1);
    let dead = app.store.list_dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].request.record_key, "rep-1");
}

#[tokio::test]
async fn unknown_and_paused_grants_are_reported_not_read() {
    let app = app().await;
    populate(&app.nylas);
    app.notify(&crate::support::payloads::grant_envelope(
        "n-exp",
        "grant.expired",
        BETA,
    ))
    .await;

    let summary = backfill(&app, options(&[BETA, "g-typo"])).await;
    assert!(!summary.succeeded(), "{summary}");
    assert_eq!(summary.grants_failed, 1);
    assert!(summary.to_string().contains("g-typo"), "{summary}");
    assert_eq!(summary.grants_skipped_paused, 1);
    assert_eq!(summary.events_seen, 0);
    assert!(app.nylas.list_requests("calendars").is_empty());
}

#[tokio::test]
async fn a_backfill_beside_the_worker_and_live_notifications_neither_duplicates_nor_loses() {
    let app = app().await;
    let expected = populate(&app.nylas);
    let stop = CancellationToken::new();
    let workers = {
        let runner = app.runner.clone();
        let stop = stop.clone();
        tokio::spawn(async move { runner.run(stop, Duration::from_secs(5)).await })
    };
    let edits = async {
        for i in 0..6 {
            let id = format!("team-{i:02}");
            let mut newer =
                crate::support::payloads::event_at(&id, ALPHA, TEAM, T0 + i * 3_600 + 600, 200);
            newer["title"] = json!(format!("Edited {id}"));
            app.nylas.put_event(newer.clone());
            let notification =
                crate::support::payloads::envelope(&format!("n-{id}"), "event.updated", newer);
            app.notify(&notification).await;
        }
    };
    let (summary, ()) = tokio::join!(backfill(&app, options(&[])), edits);
    assert!(summary.succeeded(), "{summary}");
    let handled = summary.created + summary.updated + summary.unchanged + summary.handed_to_serve;
    assert_eq!(handled, summary.events_seen);
    stop.cancel();
    workers.await.unwrap();
    app.drain().await;

    assert_eq!(synced(&app.crm), expected);
    for i in 0..6 {
        let id = format!("team-{i:02}");
        assert_eq!(
            app.crm.records_for(&id)[0].body["meeting_subject"],
            format!("Edited {id}")
        );
    }
}
