//! The Pipedrive adapter through the whole pipeline (real router, worker and store) against the
//! stateful fake Pipedrive, every request checked against Pipedrive's OpenAPI v2 spec.

mod contract;
mod persons;

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::fake_pipedrive::{Activity, FakePipedrive};
use crate::support::harness::{CrmFake, TestApp};
use crate::support::payloads::{deleted_object, envelope, event};

const GRANT: &str = "grant-1";
const CALENDAR: &str = "team@group.calendar.google.com";

/// An app writing to a fake Pipedrive, with `seller.com` as the internal domain.
async fn pipedrive_app(env: &[(&str, &str)]) -> TestApp {
    let mut builder = TestApp::builder()
        .crm(CrmFake::Pipedrive)
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

fn pd(app: &TestApp) -> &FakePipedrive {
    app.pipedrive()
}

/// The activity of the first write: one, with the fields of the event and its person.
fn assert_first_write(pipedrive: &FakePipedrive, buyer: i64) -> Activity {
    let activities = pipedrive.activities_for("evt-1");
    assert_eq!(activities.len(), 1);
    let activity = &activities[0];
    // 1_782_900_000 = 2026-07-01T10:00:00Z; 45 minutes.
    assert_eq!(activity.text("type"), "meeting");
    assert_eq!(activity.text("subject"), "Discovery call");
    assert_eq!(activity.text("due_date"), "2026-07-01");
    assert_eq!(activity.text("due_time"), "10:00");
    assert_eq!(activity.text("duration"), "00:45");
    assert_eq!(activity.fields["location"], json!({"value": "Zoom"}));
    assert_eq!(activity.fields["busy"], true);
    assert_eq!(activity.fields["done"], false);
    assert!(activity.text("note").contains("calsync-event-id: evt-1"));
    assert!(activity.text("note").contains("https://zoom.us/j/1"));
    assert_eq!(activity.participant_ids(), [buyer]);
    assert_eq!(
        activity.fields["attendees"],
        json!([{"email": "buyer@prospect.com", "name": "Pat Buyer", "person_id": buyer}])
    );

    activity.clone()
}

#[tokio::test]
async fn an_activity_is_created_once_updated_cancelled_and_deleted() {
    let app = pipedrive_app(&[]).await;
    let buyer = pd(&app).add_person("Pat Buyer", "buyer@prospect.com");
    let mut current = event("evt-1", GRANT, CALENDAR, "Discovery call", 100);
    app.nylas.put_event(current.clone());
    let created = envelope("n1", "event.created", current.clone());
    join_all((0..4).map(|_| app.notify(&created))).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);

    let activity = assert_first_write(pd(&app), buyer);

    // A redelivery changes nothing; an update PATCHes the same activity.
    app.notify(&created).await;
    app.drain().await;
    current["title"] = json!("Discovery call (moved)");
    current["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let activities = pd(&app).activities_for("evt-1");
    assert_eq!(activities.len(), 1);
    assert_eq!(activities[0].text("subject"), "Discovery call (moved)");
    let patch = format!("PATCH /api/v2/activities/{}", activity.id);
    assert!(pd(&app).calls().contains(&patch), "{:?}", pd(&app).calls());

    // Cancelled stays, marked as such and no longer busy.
    current["status"] = json!("cancelled");
    current["updated_at"] = json!(300);
    publish(&app, "n3", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let cancelled = &pd(&app).activities_for("evt-1")[0];
    assert_eq!(
        cancelled.text("subject"),
        "Cancelled: Discovery call (moved)"
    );
    assert_eq!(cancelled.fields["busy"], false);
    assert!(!cancelled.deleted);

    // Deleted from the calendar: deleted in Pipedrive.
    app.nylas.remove_event(GRANT, "evt-1");
    let deleted = deleted_object("evt-1", GRANT, CALENDAR);
    app.notify(&envelope("n4", "event.deleted", deleted)).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Deleted)]);
    assert!(pd(&app).activities_for("evt-1")[0].deleted);
    assert!(pd(&app).live_activities().is_empty());
    pd(&app).assert_contract();
}

#[tokio::test]
async fn an_all_day_event_is_due_on_its_date_without_a_time() {
    let app = pipedrive_app(&[]).await;
    let mut offsite = event("evt-1", GRANT, CALENDAR, "Offsite", 100);
    offsite["when"] =
        json!({"object": "datespan", "start_date": "2026-07-01", "end_date": "2026-07-03"});
    publish(&app, "n1", "event.created", &offsite).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let activity = &pd(&app).activities_for("evt-1")[0];
    assert_eq!(activity.text("due_date"), "2026-07-01");
    assert!(!activity.fields.contains_key("due_time"));
    assert!(!activity.fields.contains_key("duration"));
    assert!(activity.text("note").contains("2026-07-01 to 2026-07-03"));
    pd(&app).assert_contract();
}

#[tokio::test]
async fn a_lost_create_answer_is_recovered_from_the_note_marker() {
    let app = pipedrive_app(&[]).await;
    // Other recent activities stand between calsync and its own.
    for index in 0..3 {
        let other = event(&format!("other-{index}"), GRANT, CALENDAR, "Other", 100);
        publish(&app, &format!("o{index}"), "event.created", &other).await;
    }
    app.drain().await;
    pd(&app).lose_next_create();
    let current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, "n1", "event.created", &current).await;
    assert!(matches!(app.drain().await[..], [Settled::RetryLater(_)]));
    assert_eq!(
        pd(&app).activities_for("evt-1").len(),
        1,
        "created, answer lost"
    );

    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let activities = pd(&app).activities_for("evt-1");
    assert_eq!(activities.len(), 1);
    let scan = pd(&app)
        .requests()
        .into_iter()
        .find(|seen| seen.method == "GET" && seen.path == "/api/v2/activities")
        .unwrap();
    let query = scan.query.unwrap_or_default();
    assert!(
        query.contains("sort_by=update_time") && query.contains("updated_since="),
        "{query}"
    );
    let patch = format!("PATCH /api/v2/activities/{}", activities[0].id);
    assert!(pd(&app).calls().contains(&patch));
    pd(&app).assert_contract();
}

#[tokio::test]
async fn an_activity_deleted_in_pipedrive_is_created_again_on_the_next_change() {
    let app = pipedrive_app(&[]).await;
    let mut current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, "n1", "event.created", &current).await;
    app.drain().await;
    let first = pd(&app).activities_for("evt-1")[0].id;
    pd(&app).delete_activity(first);

    current["title"] = json!("Demo v2");
    current["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let live = pd(&app).live_activities();
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].id, first);
    pd(&app).assert_contract();
}

#[tokio::test]
async fn a_burst_429_is_waited_out_for_the_window_reset() {
    let app = pipedrive_app(&[("CALSYNC__CRM__LINK_CONTACTS", "false")]).await;
    pd(&app).throttle([1]);
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let requests = pd(&app).requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at.duration_since(requests[0].at);
    assert!(gap.as_millis() >= 900, "retried after {gap:?}");
    assert_eq!(pd(&app).live_activities().len(), 1);
    pd(&app).assert_contract();
}

#[tokio::test]
async fn a_spent_daily_budget_pauses_every_write_until_the_reset() {
    let app = pipedrive_app(&[("CALSYNC__CRM__LINK_CONTACTS", "false")]).await;
    pd(&app).set_budget(7);
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let text = app.app.metrics().render();
    assert!(
        text.contains(r#"calsync_crm_quota{kind="pipedrive",quota="daily_tokens_remaining"} 2"#)
    );

    publish(
        &app,
        "n2",
        "event.created",
        &event("evt-2", GRANT, CALENDAR, "B", 100),
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
    let seen = pd(&app).requests().len();

    publish(
        &app,
        "n3",
        "event.created",
        &event("evt-3", GRANT, CALENDAR, "C", 100),
    )
    .await;
    assert!(
        app.drain().await.is_empty(),
        "nothing is claimed while Pipedrive is paused"
    );
    assert_eq!(
        pd(&app).requests().len(),
        seen,
        "held back without a request"
    );
    assert_eq!(pd(&app).live_activities().len(), 1);
    pd(&app).assert_contract();
}

#[tokio::test(start_paused = true)]
async fn an_expired_token_waits_for_the_operator_then_resumes() {
    let app = TestApp::builder()
        .crm(CrmFake::Pipedrive)
        .tokio_clock()
        .env("CALSYNC__SYNC__INTERNAL_DOMAINS", "seller.com")
        .spawn()
        .await;
    pd(&app).expire_token();
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
    assert!(check.contains("/api/v2/activities?limit=1"), "{check}");
    assert!(app.store.list_dead_letters(10).await.unwrap().is_empty());

    pd(&app).renew_token();
    app.app.crm().check().await.unwrap();
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(pd(&app).live_activities().len(), 1);
    // The first attempt may have reached Pipedrive: recent activities were scanned first.
    let scanned = pd(&app).requests().iter().any(|seen| {
        seen.path == "/api/v2/activities"
            && seen
                .query
                .as_deref()
                .unwrap_or("")
                .contains("updated_since=")
    });
    assert!(scanned);
    pd(&app).assert_contract();
}
