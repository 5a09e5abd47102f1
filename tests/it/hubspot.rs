//! The HubSpot adapter through the whole pipeline (real router, worker and store) against the
//! stateful fake HubSpot, every request checked against HubSpot's OpenAPI specs.

mod contract;
mod links;

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::fake_hubspot::{FakeHubSpot, Meeting, Throttle};
use crate::support::harness::{CrmFake, TestApp};
use crate::support::payloads::{deleted_object, envelope, event};

const GRANT: &str = "grant-1";
const CALENDAR: &str = "team@group.calendar.google.com";

/// An app writing to a fake HubSpot, with `seller.com` as the internal domain.
async fn hubspot_app(env: &[(&str, &str)]) -> TestApp {
    let mut builder = TestApp::builder()
        .crm(CrmFake::HubSpot)
        .env("CALSYNC__SYNC__INTERNAL_DOMAINS", "seller.com");
    for (key, value) in env {
        builder = builder.env(key, value);
    }
    builder.spawn().await
}

/// Puts the event in Nylas and notifies calsync of it.
async fn publish(app: &TestApp, notification: &str, trigger: &str, event: &Value) {
    app.nylas.put_event(event.clone());
    app.notify(&envelope(notification, trigger, event.clone()))
        .await;
}

fn iso(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).unwrap().to_string()
}

fn hub(app: &TestApp) -> &FakeHubSpot {
    app.hubspot()
}

/// The meeting of the first write: one, with the properties and the association of the event.
fn assert_first_write(hubspot: &FakeHubSpot) -> Meeting {
    let meetings = hubspot.meetings_for("evt-1");
    assert_eq!(meetings.len(), 1);
    let meeting = &meetings[0];
    assert_eq!(meeting.prop("hs_meeting_title"), "Discovery call");
    assert_eq!(meeting.prop("hs_timestamp"), iso(1_782_900_000));
    assert_eq!(meeting.prop("hs_meeting_start_time"), iso(1_782_900_000));
    assert_eq!(meeting.prop("hs_meeting_end_time"), iso(1_782_902_700));
    assert_eq!(meeting.prop("hs_meeting_location"), "Zoom");
    assert_eq!(
        meeting.prop("hs_meeting_external_url"),
        "https://zoom.us/j/1"
    );
    assert_eq!(meeting.prop("hs_meeting_outcome"), "SCHEDULED");
    assert!(meeting.prop("hs_meeting_body").contains("pricing"));
    assert_eq!(hubspot.linked_emails(&meeting.id), ["buyer@prospect.com"]);
    let create = hubspot
        .requests()
        .into_iter()
        .find(|seen| seen.method == "POST" && seen.path.ends_with("/meetings"))
        .unwrap();
    assert_eq!(
        create.body["associations"][0]["types"],
        json!([{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 200}])
    );

    meeting.clone()
}

#[tokio::test]
async fn a_meeting_is_created_once_updated_cancelled_and_archived() {
    let app = hubspot_app(&[]).await;
    hub(&app).add_contact("buyer@prospect.com", Some("Pat"));
    let mut current = event("evt-1", GRANT, CALENDAR, "Discovery call", 100);
    app.nylas.put_event(current.clone());
    let created = envelope("n1", "event.created", current.clone());
    join_all((0..4).map(|_| app.notify(&created))).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);

    let meeting = assert_first_write(hub(&app));

    // A redelivery changes nothing; an update PATCHes the same meeting.
    app.notify(&created).await;
    app.drain().await;
    current["title"] = json!("Discovery call (moved)");
    current["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let meetings = hub(&app).meetings_for("evt-1");
    assert_eq!(meetings.len(), 1);
    assert_eq!(
        meetings[0].prop("hs_meeting_title"),
        "Discovery call (moved)"
    );
    let patch = format!("PATCH /crm/objects/2026-03/meetings/{}", meeting.id);
    assert!(
        hub(&app).calls().contains(&patch),
        "{:?}",
        hub(&app).calls()
    );

    // Cancelled is sales information: the meeting stays, with outcome CANCELED.
    current["status"] = json!("cancelled");
    current["updated_at"] = json!(300);
    publish(&app, "n3", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let cancelled = &hub(&app).meetings_for("evt-1")[0];
    assert_eq!(cancelled.prop("hs_meeting_outcome"), "CANCELED");
    assert!(!cancelled.archived);

    // Deleted from the calendar: archived in HubSpot.
    app.nylas.remove_event(GRANT, "evt-1");
    let deleted = deleted_object("evt-1", GRANT, CALENDAR);
    app.notify(&envelope("n4", "event.deleted", deleted)).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Deleted)]);
    assert!(hub(&app).meetings_for("evt-1")[0].archived);
    assert!(hub(&app).live_meetings().is_empty());
    hub(&app).assert_contract();
}

#[tokio::test]
async fn a_lost_create_answer_is_recovered_by_search_not_duplicated() {
    let app = hubspot_app(&[]).await;
    hub(&app).add_contact("buyer@prospect.com", Some("Pat"));
    hub(&app).lose_next_create();
    let current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, "n1", "event.created", &current).await;
    assert!(matches!(app.drain().await[..], [Settled::RetryLater(_)]));
    assert_eq!(
        hub(&app).meetings_for("evt-1").len(),
        1,
        "created, answer lost"
    );

    // The next notification for the event finds the meeting instead of creating another.
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let meetings = hub(&app).meetings_for("evt-1");
    assert_eq!(meetings.len(), 1);
    let calls = hub(&app).calls();
    assert!(calls.contains(&"POST /crm/objects/2026-03/meetings/search".to_owned()));
    assert!(calls.contains(&format!(
        "PATCH /crm/objects/2026-03/meetings/{}",
        meetings[0].id
    )));
    assert_eq!(
        hub(&app).linked_emails(&meetings[0].id),
        ["buyer@prospect.com"]
    );
    hub(&app).assert_contract();
}

#[tokio::test]
async fn a_meeting_deleted_in_hubspot_is_created_again_on_the_next_change() {
    let app = hubspot_app(&[]).await;
    let mut current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, "n1", "event.created", &current).await;
    app.drain().await;
    let first = hub(&app).meetings_for("evt-1")[0].id.clone();
    hub(&app).archive(&first);

    current["title"] = json!("Demo v2");
    current["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let live = hub(&app).live_meetings();
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].id, first);
    assert_eq!(live[0].prop("hs_meeting_title"), "Demo v2");
    hub(&app).assert_contract();
}

#[tokio::test]
async fn a_burst_429_is_waited_out_as_hubspot_asks() {
    let app = hubspot_app(&[]).await;
    hub(&app).throttle([Throttle::TenSecondly {
        retry_after: Some(1),
        interval_ms: 10_000,
    }]);
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    // Without Retry-After, the interval header says how long the window is.
    hub(&app).throttle([Throttle::TenSecondly {
        retry_after: None,
        interval_ms: 1_000,
    }]);
    hub(&app).reset_requests();
    publish(
        &app,
        "n2",
        "event.created",
        &event("evt-2", GRANT, CALENDAR, "B", 100),
    )
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let requests = hub(&app).requests();
    let gap = requests[1].at.duration_since(requests[0].at);
    assert!(gap.as_millis() >= 900, "retried after {gap:?}");
    assert_eq!(requests[0].path, requests[1].path, "the same request again");
    assert_eq!(hub(&app).live_meetings().len(), 2);
    hub(&app).assert_contract();
}

#[tokio::test]
async fn a_daily_429_pauses_every_write_until_the_reset() {
    let app = hubspot_app(&[]).await;
    hub(&app).throttle([Throttle::Daily]);
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    let settled = app.drain().await;
    // The daily cap is the target's trouble: the job waits without counting an attempt.
    let [Settled::Deferred(wait)] = settled[..] else {
        panic!("expected a deferral, got {settled:?}");
    };
    assert!(
        wait.as_secs() > 30,
        "waits for the reset, not seconds: {wait:?}"
    );
    assert_eq!(hub(&app).requests().len(), 1);

    // Another event is held back without a request reaching HubSpot.
    publish(
        &app,
        "n2",
        "event.created",
        &event("evt-2", GRANT, CALENDAR, "B", 100),
    )
    .await;
    assert!(
        app.drain().await.is_empty(),
        "nothing is claimed while HubSpot is paused"
    );
    assert_eq!(hub(&app).requests().len(), 1);
    assert!(
        app.app
            .metrics()
            .render()
            .contains(r#"calsync_crm_quota{kind="hubspot",quota="daily_remaining"} 0"#)
    );
    hub(&app).assert_contract();
}

#[tokio::test(start_paused = true)]
async fn an_expired_token_waits_for_the_operator_then_resumes() {
    let app = TestApp::builder()
        .crm(CrmFake::HubSpot)
        .tokio_clock()
        .env("CALSYNC__SYNC__INTERNAL_DOMAINS", "seller.com")
        .spawn()
        .await;
    hub(&app).expire_token();
    let current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, "n1", "event.created", &current).await;
    // Rejected credentials are the target's trouble: the job waits, no attempt counted.
    assert!(matches!(app.drain().await[..], [Settled::Deferred(_)]));
    // Past the target's back-off (time only moves when the test says so).
    tokio::time::advance(std::time::Duration::from_secs(3600)).await;
    let check = app.app.crm().check().await.unwrap_err();
    assert_eq!(check.retry(), calsync::retry::Retry::Auth);
    // The check names the URL it read.
    let check = check.to_string();
    assert!(check.contains("GET http://127.0.0.1:"), "{check}");
    assert!(
        check.contains("/crm/objects/2026-03/meetings?limit=1"),
        "{check}"
    );
    assert!(app.store.list_dead_letters(10).await.unwrap().is_empty());

    hub(&app).renew_token();
    app.app.crm().check().await.unwrap();
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(hub(&app).live_meetings().len(), 1);
    // The first attempt may have reached HubSpot: the create was searched for first.
    let search = "POST /crm/objects/2026-03/meetings/search".to_owned();
    assert!(hub(&app).calls().contains(&search));
    hub(&app).assert_contract();
}

#[tokio::test]
async fn a_portal_without_the_event_id_property_dead_letters_naming_it() {
    let app = hubspot_app(&[]).await;
    hub(&app).without_event_id_property();
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    assert_eq!(app.drain().await, vec![Settled::DeadLettered]);
    let dead = app.store.list_dead_letters(10).await.unwrap();
    assert!(
        dead[0].last_error.contains("calsync_event_id"),
        "{}",
        dead[0].last_error
    );
    assert!(hub(&app).live_meetings().is_empty());
    hub(&app).assert_contract();
}
