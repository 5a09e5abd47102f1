//! The write path end to end: notifications in through the real router, jobs drained by the real
//! worker, records out to the fake CRM; the semantics of invariants 2–6.

use calsync::config::FetchPolicy;
use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::harness::TestApp;
use crate::support::payloads::{deleted_object, envelope, event};

const GRANT: &str = "grant-1";
const CALENDAR: &str = "team@group.calendar.google.com";

#[tokio::test]
async fn the_same_notification_eight_times_concurrently_makes_one_record() {
    let app = TestApp::spawn().await;
    let created = event("evt-1", GRANT, CALENDAR, "Discovery call", 100);
    app.nylas.put_event(created.clone());
    let notification = envelope("notif-1", "event.created", created);
    let statuses = join_all((0..8).map(|_| app.notify(&notification))).await;
    assert!(
        statuses.iter().all(|status| *status == StatusCode::OK),
        "{statuses:?}"
    );

    let settled = app.drain().await;
    assert_eq!(settled, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(app.crm.count("POST"), 1);
    let records = app.crm.records_for("evt-1");
    assert_eq!(records.len(), 1);
    let body = &records[0].body;
    assert_eq!(body["meeting_subject"], "Discovery call");
    assert_eq!(body["grant_id"], GRANT);
    assert_eq!(body["provider_calendar_id"], CALENDAR);
    assert_eq!(
        body["attendees"],
        json!([{"email": "buyer@prospect.com", "name": "Pat Buyer", "rsvp_status": "yes"}])
    );
}

#[tokio::test]
async fn crm_calls_are_one_per_change_and_none_without_one() {
    let app = TestApp::spawn().await;
    let mut current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    app.nylas.put_event(current.clone());
    app.notify(&envelope("n1", "event.created", current.clone()))
        .await;
    app.drain().await;
    assert_eq!(
        (app.crm.count("POST"), app.crm.count("PUT")),
        (1, 0),
        "create"
    );

    current["title"] = json!("Demo (rescheduled)");
    current["updated_at"] = json!(200);
    app.nylas.put_event(current.clone());
    app.notify(&envelope("n2", "event.updated", current.clone()))
        .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    assert_eq!(
        (app.crm.count("POST"), app.crm.count("PUT")),
        (1, 1),
        "update"
    );

    // Re-delivery of the same notification, and a new notification without a content change.
    app.notify(&envelope("n2", "event.updated", current.clone()))
        .await;
    current["updated_at"] = json!(250);
    app.nylas.put_event(current.clone());
    app.notify(&envelope("n3", "event.updated", current.clone()))
        .await;
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::Unchanged)]
    );
    assert_eq!(app.crm.requests().len(), 2, "unchanged costs nothing");

    app.nylas.remove_event(GRANT, "evt-1");
    app.notify(&envelope(
        "n4",
        "event.deleted",
        deleted_object("evt-1", GRANT, CALENDAR),
    ))
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Deleted)]);
    assert_eq!(app.crm.count("DELETE"), 1);
    assert!(app.crm.live_records().is_empty());
    assert_eq!(app.crm.all_records().len(), 1);
}

#[tokio::test]
async fn an_older_version_never_overwrites_a_newer_one() {
    let app = TestApp::builder()
        .with_config(|settings| settings.nylas.fetch = FetchPolicy::WhenIncomplete)
        .spawn()
        .await;
    let newer = event("evt-1", GRANT, CALENDAR, "Newer title", 300);
    let older = event("evt-1", GRANT, CALENDAR, "Older title", 200);
    app.notify(&envelope("n-new", "event.updated", newer)).await;
    app.drain().await;
    app.notify(&envelope("n-old", "event.updated", older)).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Stale)]);
    assert_eq!(
        app.crm.live_records()[0].body["meeting_subject"],
        "Newer title"
    );
    assert_eq!(
        app.nylas.event_reads(),
        0,
        "complete payloads are used as sent"
    );
}

#[tokio::test]
async fn a_stale_notification_queued_behind_a_newer_one_is_coalesced_away() {
    let app = TestApp::builder()
        .with_config(|settings| settings.nylas.fetch = FetchPolicy::WhenIncomplete)
        .spawn()
        .await;
    app.notify(&envelope(
        "n-new",
        "event.updated",
        event("evt-1", GRANT, CALENDAR, "Newer", 300),
    ))
    .await;
    app.notify(&envelope(
        "n-old",
        "event.updated",
        event("evt-1", GRANT, CALENDAR, "Older", 200),
    ))
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(app.crm.live_records()[0].body["meeting_subject"], "Newer");
}

#[tokio::test]
async fn a_late_update_after_a_delete_does_not_resurrect_the_event() {
    for policy in [FetchPolicy::Always, FetchPolicy::WhenIncomplete] {
        let app = TestApp::builder()
            .with_config(move |settings| settings.nylas.fetch = policy)
            .spawn()
            .await;
        let live = event("evt-1", GRANT, CALENDAR, "Demo", 100);
        app.nylas.put_event(live.clone());
        app.notify(&envelope("n1", "event.created", live.clone()))
            .await;
        app.drain().await;

        app.nylas.remove_event(GRANT, "evt-1");
        app.notify(&envelope(
            "n2",
            "event.deleted",
            deleted_object("evt-1", GRANT, CALENDAR),
        ))
        .await;
        app.drain().await;
        // A retry of the old update arrives late.
        app.notify(&envelope("n1-late", "event.updated", live))
            .await;
        let settled = app.drain().await;
        assert_eq!(
            settled,
            vec![Settled::Done(SyncOutcome::NothingToDelete)],
            "{policy:?}"
        );
        assert!(app.crm.live_records().is_empty(), "{policy:?}");
        assert_eq!(app.crm.count("POST"), 1, "{policy:?}");
    }
}

#[tokio::test]
async fn an_update_still_returned_by_the_api_resurrects_a_deleted_event() {
    let app = TestApp::spawn().await;
    let live = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    app.nylas.put_event(live.clone());
    app.notify(&envelope("n1", "event.created", live.clone()))
        .await;
    app.drain().await;
    app.notify(&envelope(
        "n2",
        "event.deleted",
        deleted_object("evt-1", GRANT, CALENDAR),
    ))
    .await;
    app.drain().await;
    assert!(app.crm.live_records().is_empty());
    let restored = event("evt-1", GRANT, CALENDAR, "Demo (restored)", 400);
    app.nylas.put_event(restored.clone());
    app.notify(&envelope("n3", "event.updated", restored)).await;
    app.drain().await;
    let live = app.crm.live_records();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].body["meeting_subject"], "Demo (restored)");
}

#[tokio::test]
async fn an_update_before_its_create_creates_the_record() {
    let app = TestApp::spawn().await;
    let current = event("evt-1", GRANT, CALENDAR, "Demo", 200);
    app.nylas.put_event(current.clone());
    app.notify(&envelope("n2", "event.updated", current.clone()))
        .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    app.notify(&envelope(
        "n1",
        "event.created",
        event("evt-1", GRANT, CALENDAR, "Demo", 100),
    ))
    .await;
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::Unchanged)]
    );
    assert_eq!(app.crm.records_for("evt-1").len(), 1);
}

#[tokio::test]
async fn a_transformed_payload_is_fetched_even_when_fetching_is_optional() {
    let app = TestApp::builder()
        .with_config(|settings| settings.nylas.fetch = FetchPolicy::WhenIncomplete)
        .spawn()
        .await;
    app.nylas.put_event(event(
        "evt-1",
        GRANT,
        CALENDAR,
        "Full title from the API",
        100,
    ));
    let partial =
        json!({"id": "evt-1", "grant_id": GRANT, "calendar_id": CALENDAR, "title": "partial"});
    app.notify(&envelope("n1", "event.updated.transformed", partial))
        .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(app.nylas.event_reads(), 1);
    let request = &app.nylas.requests()[0];
    assert!(
        request.contains("calendar_id=team%40group.calendar.google.com"),
        "{request}"
    );
    assert_eq!(
        app.crm.live_records()[0].body["meeting_subject"],
        "Full title from the API"
    );
}

#[tokio::test]
async fn an_event_gone_at_the_source_is_not_created() {
    let app = TestApp::spawn().await;
    app.notify(&envelope(
        "n1",
        "event.created",
        event("evt-gone", GRANT, CALENDAR, "Ghost", 100),
    ))
    .await;
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::NothingToDelete)]
    );
    assert_eq!(app.nylas.event_reads(), 1);
    assert!(app.crm.requests().is_empty());
}

#[tokio::test]
async fn two_grants_notifying_one_event_update_one_record() {
    let app = TestApp::spawn().await;
    for grant in ["grant-a", "grant-b"] {
        app.nylas
            .put_event(event("shared-evt", grant, "primary", "Shared meeting", 100));
    }
    app.notify(&envelope(
        "na",
        "event.created",
        event("shared-evt", "grant-a", "primary", "Shared meeting", 100),
    ))
    .await;
    app.drain().await;
    app.notify(&envelope(
        "nb",
        "event.created",
        event("shared-evt", "grant-b", "primary", "Shared meeting", 100),
    ))
    .await;
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::Unchanged)]
    );
    assert_eq!(app.crm.records_for("shared-evt").len(), 1);
    assert_eq!(app.crm.count("POST"), 1);
}

#[tokio::test]
async fn a_cancelled_event_is_updated_not_deleted() {
    let app = TestApp::spawn().await;
    let mut current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    app.nylas.put_event(current.clone());
    app.notify(&envelope("n1", "event.created", current.clone()))
        .await;
    app.drain().await;
    current["status"] = json!("cancelled");
    current["updated_at"] = json!(200);
    app.nylas.put_event(current.clone());
    app.notify(&envelope("n2", "event.updated", current)).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let live = app.crm.live_records();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].body["meeting_status"], "cancelled");
    assert_eq!(app.crm.count("DELETE"), 0);
}

#[tokio::test]
async fn ten_quick_edits_cost_one_write() {
    let app = TestApp::spawn().await;
    let mut current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    for version in 0..10 {
        current["title"] = json!(format!("Demo v{version}"));
        current["updated_at"] = json!(100 + version);
        app.nylas.put_event(current.clone());
        app.notify(&envelope(
            &format!("n{version}"),
            "event.updated",
            current.clone(),
        ))
        .await;
    }
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(app.crm.requests().len(), 1);
    assert_eq!(app.crm.live_records()[0].body["meeting_subject"], "Demo v9");
}

#[tokio::test]
async fn job_log_lines_name_the_event_the_notification_and_the_crm_record() {
    let (logs, _guard) = crate::support::captured_logs::CapturedLogs::start();
    let app = TestApp::spawn().await;
    let created = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    app.nylas.put_event(created.clone());
    app.notify(&envelope("n1", "event.created", created)).await;
    app.drain().await;
    let synced = logs.find("INFO", "Synced the event.");
    assert_eq!(synced.len(), 1, "{:?}", logs.lines());
    let span = &synced[0]["span"];
    assert_eq!(span["event.id"], "evt-1");
    assert_eq!(span["grant.id"], GRANT);
    assert_eq!(span["notification.id"], "n1");
    assert_eq!(span["crm.record_id"], "crm-1");
    assert_eq!(synced[0]["outcome"], "created");
}
