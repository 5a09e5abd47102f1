//! Item 10: `calsync replay` re-enqueues logged notifications through the edge's interpretation;
//! idempotent processing makes it safe: unchanged events cost no CRM write, a mapping change is
//! written, a deleted event is not resurrected; it works while `serve` runs.

use std::time::Duration;

use calsync::commands::replay::{self, ReplayArgs, ReplayError, ReplaySummary, TimeArg};
use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::json;

use super::{hours_ago, log_notification};
use crate::support::binary::{Daemon, run_command};
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::harness::TestApp;
use crate::support::payloads::{deleted_object, envelope, event};

const GRANT: &str = "grant-1";
const CALENDAR: &str = "primary";

async fn replay(app: &TestApp, args: ReplayArgs) -> (ReplaySummary, String) {
    let mut out = Vec::new();
    let summary = replay::run(app.parts.store.as_ref(), app.parts.clock, &args, &mut out)
        .await
        .unwrap();
    (summary, String::from_utf8(out).unwrap())
}

fn since(hours: u64) -> ReplayArgs {
    ReplayArgs {
        since: TimeArg::Ago(Duration::from_secs(hours * 3600)),
        until: None,
        event_id: None,
    }
}

/// Two events synced through the edge, the CRM's request log cleared.
async fn two_synced_events() -> TestApp {
    let app = TestApp::spawn().await;
    for (id, title) in [("evt-1", "Demo"), ("evt-2", "Review")] {
        let object = event(id, GRANT, CALENDAR, title, 100);
        app.nylas.put_event(object.clone());
        let status = app
            .notify(&envelope(&format!("n-{id}"), "event.created", object))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(app.drain().await.len(), 2);
    assert_eq!(app.crm.live_records().len(), 2);
    app.crm.reset_counts();
    app
}

#[tokio::test]
async fn replaying_unchanged_events_makes_no_crm_write() {
    let app = two_synced_events().await;
    let (summary, out) = replay(&app, since(1)).await;
    assert_eq!(
        summary,
        ReplaySummary {
            matched: 2,
            replayed: 2,
            skipped: 0,
            events: 2
        }
    );
    assert!(
        out.contains("Replayed 2 notification(s) for 2 event(s), skipped 0"),
        "{out}"
    );
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::Unchanged); 2]
    );
    assert!(app.crm.requests().is_empty(), "{:?}", app.crm.requests());
}

#[tokio::test]
async fn replay_after_a_mapping_change_rewrites_only_the_selected_event() {
    let app = two_synced_events().await;
    // A mapping change means the record calsync computes now differs from the one it wrote:
    // exactly the state where the stored content hash no longer matches.
    let target = app.parts.crm.target().to_string();
    let mut state = app
        .store
        .load_state(&target.as_str().into(), &"evt-1".into())
        .await
        .unwrap()
        .unwrap();
    state.content_hash = Some("hash-of-the-previous-mapping".to_string());
    app.store.save_state(&state).await.unwrap();

    let mut args = since(1);
    args.event_id = Some("evt-1".to_string());
    let (summary, _) = replay(&app, args).await;
    assert_eq!((summary.matched, summary.replayed), (1, 1));
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    assert_eq!((app.crm.count("PUT"), app.crm.count("POST")), (1, 0));
    assert_eq!(app.crm.records_for("evt-1").len(), 1, "no duplicate");
}

#[tokio::test]
async fn replay_never_resurrects_a_deleted_event() {
    let app = two_synced_events().await;
    app.nylas.remove_event(GRANT, "evt-1");
    let gone = deleted_object("evt-1", GRANT, CALENDAR);
    app.notify(&envelope("n-del", "event.deleted", gone)).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Deleted)]);
    app.crm.reset_counts();

    let mut args = since(1);
    args.event_id = Some("evt-1".to_string());
    let (summary, _) = replay(&app, args).await;
    assert_eq!(summary.replayed, 2, "the create and the delete");
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::NothingToDelete)],
        "both replays coalesce into one job for the key"
    );
    assert!(app.crm.requests().is_empty());
    assert!(app.crm.records_for("evt-1").iter().all(|r| r.deleted));
}

#[tokio::test]
async fn the_window_selects_by_receipt_time_and_grant_changes_are_skipped() {
    let app = TestApp::spawn().await;
    let store = app.store.as_ref();
    let object = |id: &str| event(id, GRANT, CALENDAR, "T", 100);
    log_notification(
        store,
        &envelope("n-10h", "event.created", object("evt-a")),
        hours_ago(10),
    )
    .await;
    log_notification(
        store,
        &envelope("n-5h", "event.updated", object("evt-b")),
        hours_ago(5),
    )
    .await;
    let grant = json!({"grant_id": "grant-9", "provider": "google"});
    log_notification(
        store,
        &envelope("n-4h", "grant.updated", grant),
        hours_ago(4),
    )
    .await;
    log_notification(
        store,
        &envelope("n-1h", "event.updated", object("evt-c")),
        hours_ago(1),
    )
    .await;
    app.drain().await;

    let args = ReplayArgs {
        since: TimeArg::At(hours_ago(6)),
        until: Some(TimeArg::Ago(Duration::from_secs(2 * 3600))),
        event_id: None,
    };
    let (summary, out) = replay(&app, args).await;
    assert_eq!(
        summary,
        ReplaySummary {
            matched: 2,
            replayed: 1,
            skipped: 1,
            events: 1
        }
    );
    assert!(
        out.contains("skipped n-4h (grant.updated")
            && out.contains("grant lifecycle notifications are not replayed"),
        "{out}"
    );
    let queued = app.store.job_stats(Timestamp::now()).await.unwrap();
    assert_eq!(queued.pending, 1, "only evt-b was queued again");

    let (summary, out) = replay(
        &app,
        ReplayArgs {
            since: TimeArg::At(hours_ago(30)),
            until: Some(TimeArg::At(hours_ago(20))),
            event_id: None,
        },
    )
    .await;
    assert_eq!(summary, ReplaySummary::default());
    assert!(out.contains("No logged notification was received"), "{out}");

    let backwards = ReplayArgs {
        since: TimeArg::Ago(Duration::from_secs(3600)),
        until: Some(TimeArg::Ago(Duration::from_secs(7200))),
        event_id: None,
    };
    let error = replay::run(
        app.parts.store.as_ref(),
        app.parts.clock,
        &backwards,
        &mut Vec::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ReplayError::EmptyWindow { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_through_the_binary_while_serve_runs_resyncs_a_missed_change() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(dir.path(), &nylas, &crm, &[]).await;
    for (id, title) in [("evt-1", "Demo"), ("evt-2", "Review")] {
        let object = event(id, GRANT, CALENDAR, title, 100);
        nylas.put_event(object.clone());
        let notification = envelope(&format!("n-{id}"), "event.created", object);
        assert_eq!(daemon.notify(&notification).await, StatusCode::OK);
    }
    let synced = daemon
        .wait_for(Duration::from_secs(30), || crm.live_records().len() == 2)
        .await;
    assert!(synced, "{:?}", crm.live_records());
    // A change whose notification never arrived.
    nylas.put_event(event("evt-1", GRANT, CALENDAR, "Demo (moved)", 200));

    let output = run_command(dir.path(), &nylas, &crm, &[], &["replay", "--since", "1h"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("Replayed 2 notification(s) for 2 event(s), skipped 0"),
        "{stdout}"
    );
    let moved = daemon
        .wait_for(Duration::from_secs(30), || {
            crm.records_for("evt-1")
                .first()
                .is_some_and(|r| r.body["meeting_subject"] == "Demo (moved)")
        })
        .await;
    assert!(moved, "{:?}", crm.records_for("evt-1"));
    assert_eq!(daemon.terminate().await, Some(0));
    assert_eq!(crm.count("POST"), 2, "no duplicate record");
    assert_eq!(crm.count("PUT"), 1, "the unchanged event was not written");

    let bad = run_command(
        dir.path(),
        &nylas,
        &crm,
        &[],
        &["replay", "--since", "yesterday"],
    )
    .await;
    assert_eq!(bad.status.code(), Some(2), "a bad time is a usage error");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a time"));
}
