//! Reconciliation: passes driven with explicit times through `run_once` / `run_resumed`, and
//! once through the real `calsync serve`.

use std::time::Duration;

use calsync::background::reconcile::LOCK;
use calsync::sweep::watermark::{self, watermark_key};
use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use jiff::Timestamp;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::binary::Daemon;
use crate::support::fake_crm::{FakeCrm, Scripted};
use crate::support::fake_nylas::{FakeNylas, PageFailure};
use crate::support::harness::TestApp;
use crate::support::payloads::{event_at, grant_envelope};

const G1: &str = "g1";
const CAL: &str = "rep@seller.com";
const TEAM: &str = "team@group.calendar.google.com";
const MIN: i64 = 60;
const DAY: i64 = 86_400;
/// `reconcile.interval` and `reconcile.safety_margin` in these tests.
const INTERVAL: i64 = 15 * MIN;
const MARGIN: i64 = 5 * MIN;

async fn app() -> TestApp {
    TestApp::builder()
        .env("CALSYNC__RECONCILE__INTERVAL", "15m")
        .env("CALSYNC__RECONCILE__SAFETY_MARGIN", "5m")
        .env("CALSYNC__SYNC__RETRY_INITIAL", "10ms")
        .spawn()
        .await
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

fn now() -> i64 {
    Timestamp::now().as_second()
}

fn account(nylas: &FakeNylas) {
    nylas.put_grant(G1, "valid");
    nylas.put_calendar(G1, CAL, true, false);
    nylas.put_calendar(G1, TEAM, false, false);
}

/// `updated_after` of each events request for `calendar`, in order.
fn updated_after(nylas: &FakeNylas, calendar: &str) -> Vec<i64> {
    nylas
        .list_requests("events")
        .iter()
        .filter(|r| r.param("calendar_id") == Some(calendar))
        .map(|r| r.param("updated_after").unwrap().parse().unwrap())
        .collect()
}

fn outcomes(mut settled: Vec<Settled>) -> Vec<Settled> {
    settled.sort_by_key(|s| format!("{s:?}"));
    settled
}

#[tokio::test]
async fn a_silent_change_and_a_never_notified_event_reach_the_crm_within_one_interval() {
    let app = app().await;
    account(&app.nylas);
    let reconciler = app.app.reconciler(CancellationToken::new());
    let t0 = now() - 6 * 3_600;
    app.nylas
        .put_event(event_at("e1", G1, CAL, t0 + DAY, t0 - 10 * MIN));
    app.nylas
        .put_event(event_at("e2", G1, CAL, t0 + DAY, t0 - 10 * MIN));
    app.nylas
        .put_event(event_at("history", G1, CAL, t0 + DAY, t0 - 2 * DAY));

    let first = reconciler.run_once(at(t0)).await.unwrap();
    assert!(first.ran);
    assert_eq!(
        (
            first.grants_reconciled,
            first.calendars_reconciled,
            first.events_enqueued
        ),
        (1, 2, 2)
    );
    assert_eq!(
        updated_after(&app.nylas, CAL),
        vec![t0 - INTERVAL - MARGIN],
        "no watermark yet"
    );
    let request = &app.nylas.list_requests("events")[0];
    assert_eq!(
        request.param("start"),
        Some((t0 - 30 * DAY).to_string().as_str())
    );
    assert_eq!(
        request.param("end"),
        Some((t0 + 365 * DAY).to_string().as_str())
    );
    assert_eq!(request.param("expand_recurring"), Some("true"));
    assert_eq!(request.param("show_cancelled"), Some("true"));
    assert_eq!(app.drain().await.len(), 2);
    assert!(
        app.crm.records_for("history").is_empty(),
        "history is the backfill's job"
    );
    assert_eq!(
        watermark::read(app.store.as_ref(), &watermark_key(G1, CAL))
            .await
            .unwrap(),
        Some(t0)
    );

    // While the webhook was failing: an edit and a new event, never notified.
    let mut edited = event_at("e1", G1, CAL, t0 + DAY, t0 + 12 * MIN);
    edited["title"] = json!("Renegotiation");
    app.nylas.put_event(edited);
    app.nylas
        .put_event(event_at("e3", G1, TEAM, t0 + 2 * DAY, t0 + 13 * MIN));
    app.nylas.clear_requests();
    app.crm.reset_counts();
    let t1 = t0 + INTERVAL;
    let second = reconciler.run_once(at(t1)).await.unwrap();
    assert_eq!(
        second.events_enqueued, 2,
        "e2 did not change and is not listed"
    );
    assert_eq!(updated_after(&app.nylas, CAL), vec![t0 - MARGIN]);
    assert_eq!(
        outcomes(app.drain().await),
        vec![
            Settled::Done(SyncOutcome::Created),
            Settled::Done(SyncOutcome::Updated)
        ]
    );
    assert_eq!((app.crm.count("POST"), app.crm.count("PUT")), (1, 1));
    assert_eq!(
        app.crm.records_for("e1")[0].body["meeting_subject"],
        "Renegotiation"
    );

    // The margin lists them again next time; unchanged, they cost no CRM call.
    app.crm.reset_counts();
    let third = reconciler.run_once(at(t1 + INTERVAL)).await.unwrap();
    assert_eq!(third.events_enqueued, 2);
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::Unchanged); 2]
    );
    assert!(app.crm.requests().is_empty());
}

#[tokio::test]
async fn grant_updated_re_reads_the_grant_from_before_it_expired() {
    let app = app().await;
    account(&app.nylas);
    let reconciler = app.app.reconciler(CancellationToken::new());
    let t0 = now() - 3_600;
    app.nylas
        .put_event(event_at("e1", G1, CAL, t0 + DAY, t0 - MIN));
    reconciler.run_once(at(t0)).await.unwrap();
    app.drain().await;

    assert_eq!(
        app.notify(&grant_envelope("n-exp", "grant.expired", G1))
            .await,
        200
    );
    let expired = now();
    app.nylas.set_grant_status(G1, "invalid");
    let mut edited = event_at("e1", G1, CAL, t0 + DAY, expired + MIN);
    edited["title"] = json!("Edited while expired");
    app.nylas.put_event(edited);
    app.nylas
        .put_event(event_at("e2", G1, TEAM, t0 + DAY, expired + 2 * MIN));
    app.nylas.clear_requests();

    let skipped = reconciler.run_once(at(expired + 5 * MIN)).await.unwrap();
    assert_eq!((skipped.grants_paused, skipped.grants_reconciled), (1, 0));
    assert!(app.nylas.list_requests("calendars").is_empty());
    assert!(reconciler.paused_grants().contains(G1));
    assert!(
        !reconciler
            .run_resumed(at(expired + 6 * MIN))
            .await
            .unwrap()
            .ran,
        "still paused"
    );

    app.nylas.set_grant_status(G1, "valid");
    assert_eq!(
        app.notify(&grant_envelope("n-upd", "grant.updated", G1))
            .await,
        200
    );
    let resumed = reconciler.run_resumed(at(expired + 7 * MIN)).await.unwrap();
    assert!(resumed.ran);
    assert_eq!((resumed.grants_reconciled, resumed.events_enqueued), (1, 2));
    let asked = updated_after(&app.nylas, CAL);
    assert_eq!(asked, vec![t0 - MARGIN]);
    assert!(asked[0] < expired, "the gap since the expiry is covered");
    assert_eq!(
        outcomes(app.drain().await),
        vec![
            Settled::Done(SyncOutcome::Created),
            Settled::Done(SyncOutcome::Updated)
        ]
    );
    assert_eq!(
        app.crm.records_for("e1")[0].body["meeting_subject"],
        "Edited while expired"
    );
    assert!(reconciler.paused_grants().is_empty());
    assert!(
        !reconciler
            .run_resumed(at(expired + 8 * MIN))
            .await
            .unwrap()
            .ran
    );
}

#[tokio::test]
async fn a_grant_paused_before_its_first_pass_is_re_read_from_its_pause() {
    let app = app().await;
    account(&app.nylas);
    let reconciler = app.app.reconciler(CancellationToken::new());
    app.notify(&grant_envelope("n-exp", "grant.expired", G1))
        .await;
    let paused = now();
    app.nylas
        .put_event(event_at("e1", G1, CAL, paused + DAY, paused + MIN));
    reconciler.run_once(at(paused + 3_600)).await.unwrap();

    app.notify(&grant_envelope("n-upd", "grant.updated", G1))
        .await;
    let later = paused + 2 * 3_600;
    let resumed = reconciler.run_resumed(at(later)).await.unwrap();
    assert_eq!(resumed.events_enqueued, 1);
    let asked = updated_after(&app.nylas, CAL)[0];
    assert!(
        asked <= paused - MARGIN && asked > paused - MARGIN - 10,
        "{asked} vs {paused}"
    );
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);

    // The floor is gone: the next pass starts from the watermark.
    app.nylas.clear_requests();
    reconciler.run_once(at(later + INTERVAL)).await.unwrap();
    assert_eq!(updated_after(&app.nylas, CAL), vec![later - MARGIN]);
}

#[tokio::test]
async fn a_failing_calendar_keeps_its_watermark_and_throttling_is_waited_out() {
    let app = app().await;
    account(&app.nylas);
    let reconciler = app.app.reconciler(CancellationToken::new());
    let t0 = now() - 3_600;
    reconciler.run_once(at(t0)).await.unwrap();
    app.nylas.fail_page(PageFailure {
        calendar_id: TEAM.into(),
        page_token: None,
        status: 400,
    });
    let throttle = Scripted {
        status: 429,
        retry_after: Some("0".into()),
    };
    app.nylas.script_for("/events", [throttle]);
    let t1 = t0 + INTERVAL;
    let report = reconciler.run_once(at(t1)).await.unwrap();
    assert_eq!(
        (report.calendars_reconciled, report.calendars_failed),
        (1, 1)
    );
    assert_eq!(
        watermark::read(app.store.as_ref(), &watermark_key(G1, CAL))
            .await
            .unwrap(),
        Some(t1)
    );
    assert_eq!(
        watermark::read(app.store.as_ref(), &watermark_key(G1, TEAM))
            .await
            .unwrap(),
        Some(t0)
    );

    app.nylas.heal_pages();
    app.nylas.clear_requests();
    reconciler.run_once(at(t1 + INTERVAL)).await.unwrap();
    assert_eq!(updated_after(&app.nylas, TEAM), vec![t0 - MARGIN]);
    assert_eq!(updated_after(&app.nylas, CAL), vec![t1 - MARGIN]);
}

#[tokio::test]
async fn another_replica_holding_the_lock_makes_the_pass_a_no_op() {
    let app = app().await;
    account(&app.nylas);
    let t0 = now();
    assert!(
        app.store
            .try_lock(LOCK, "other-replica", at(t0), Duration::from_secs(3_600))
            .await
            .unwrap()
    );
    let reconciler = app.app.reconciler(CancellationToken::new());
    let report = reconciler.run_once(at(t0 + MIN)).await.unwrap();
    assert!(!report.ran);
    assert!(app.nylas.requests().is_empty());
    let after_expiry = reconciler.run_once(at(t0 + 3_601)).await.unwrap();
    assert!(after_expiry.ran);
}

#[tokio::test]
async fn serve_runs_reconciliation_and_heals_a_missed_event() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    account(&nylas);
    let missed = now() - MIN;
    nylas.put_event(event_at("missed", G1, TEAM, missed + DAY, missed));
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(
        dir.path(),
        &nylas,
        &crm,
        &[("CALSYNC__RECONCILE__INTERVAL", "1h")],
    )
    .await;
    let healed = daemon
        .wait_for(Duration::from_secs(30), || {
            crm.records_for("missed").len() == 1
        })
        .await;
    assert!(
        healed,
        "the start-up pass found the event no webhook reported"
    );
    let metrics = daemon.metrics().await;
    assert!(
        metrics.contains(r#"calsync_reconcile_passes_total{pass="full",result="ok"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("calsync_reconcile_events_enqueued_total 1"),
        "{metrics}"
    );
    let last_success = metrics
        .lines()
        .find_map(|line| line.strip_prefix("calsync_reconcile_last_success_timestamp_seconds "))
        .and_then(|value| value.parse::<f64>().ok())
        .expect("the last success gauge");
    assert!(last_success as i64 >= missed, "{last_success}");
    assert_eq!(daemon.terminate().await, Some(0));
}

#[tokio::test]
async fn a_grant_nylas_lists_valid_long_after_its_pause_is_resumed_without_grant_updated() {
    let app = app().await;
    account(&app.nylas);
    let reconciler = app.app.reconciler(CancellationToken::new());
    app.notify(&grant_envelope("n-exp", "grant.expired", G1))
        .await;
    let paused = now();
    app.nylas
        .put_event(event_at("e1", G1, CAL, paused + DAY, paused + MIN));

    // Within Nylas's own lag, a valid listing does not resume the grant.
    let early = reconciler.run_once(at(paused + 3_600)).await.unwrap();
    assert_eq!(early.grants_paused, 1);
    assert!(app.drain().await.is_empty());

    // The grant.updated notification was lost; hours later Nylas still lists the grant valid.
    let later = paused + 3 * 3_600;
    let report = reconciler.run_once(at(later)).await.unwrap();
    assert_eq!((report.grants_paused, report.events_enqueued), (0, 1));
    assert_eq!(
        app.store.grant_status(&G1.into()).await.unwrap(),
        calsync::store::GrantStatus::Active
    );
    let asked = updated_after(&app.nylas, CAL);
    assert!(
        asked.iter().any(|t| *t <= paused - MARGIN),
        "re-read from before the pause: {asked:?} vs {paused}"
    );
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
}
