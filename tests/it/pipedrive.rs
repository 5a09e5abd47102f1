//! What is Pipedrive's own, through the whole pipeline (real router, worker and store) against
//! the stateful fake Pipedrive, every request checked against Pipedrive's OpenAPI v2 spec: the
//! activity fields written, all-day activities, participants. The behaviour every CRM shares is
//! in `crm_conformance`.

mod contract;
mod persons;

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::json;

use crate::support::crm_app::{CALENDAR, GRANT, app, publish};
use crate::support::fake_pipedrive::FakePipedrive;
use crate::support::fake_vendor::Recorded;
use crate::support::harness::{CrmFake, TestApp};
use crate::support::payloads::event;

/// An app writing to a fake Pipedrive, with `seller.com` as the internal domain.
async fn pipedrive_app(env: &[(&str, &str)]) -> TestApp {
    app(CrmFake::Pipedrive, env, false).await
}

fn pd(app: &TestApp) -> &FakePipedrive {
    app.pipedrive()
}

/// The activity of the first write: one, with the fields of the event and its person.
fn assert_first_write(pipedrive: &FakePipedrive, buyer: i64) {
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
}

#[tokio::test]
async fn the_first_write_maps_the_event_and_its_person() {
    let app = pipedrive_app(&[]).await;
    let buyer = pd(&app).add_person("Pat Buyer", "buyer@prospect.com");
    let current = event("evt-1", GRANT, CALENDAR, "Discovery call", 100);
    publish(&app, "n1", "event.created", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_first_write(pd(&app), buyer);
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
