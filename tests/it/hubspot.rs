//! What is HubSpot's own, through the whole pipeline (real router, worker and store) against the
//! stateful fake HubSpot, every request checked against HubSpot's OpenAPI specs: the properties
//! written, the window header, a portal without the event id property, labelled links. The
//! behaviour every CRM shares is in `crm_conformance`.

mod batch;
mod batch_gate;
mod batch_updates;
mod contract;
mod crash;
mod links;
mod measure;

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::json;

use crate::support::crm_app::{CALENDAR, GRANT, app, publish, publish_new};
use crate::support::fake_hubspot::{FakeHubSpot, Throttle};
use crate::support::fake_vendor::Recorded;
use crate::support::harness::{CrmFake, TestApp};
use crate::support::payloads::event;

/// An app writing to a fake HubSpot, with `seller.com` as the internal domain.
async fn hubspot_app(env: &[(&str, &str)]) -> TestApp {
    app(CrmFake::HubSpot, env, false).await
}

fn iso(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).unwrap().to_string()
}

fn hub(app: &TestApp) -> &FakeHubSpot {
    app.hubspot()
}

/// The meeting of the first write: one, with the properties and the association of the event.
fn assert_first_write(hubspot: &FakeHubSpot) {
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
}

/// Writes each meeting with its own requests (`crm.batch_size = 1`): the path calsync takes
/// when batching is off or the event id property is not unique.
pub const UNBATCHED: (&str, &str) = ("CALSYNC__CRM__BATCH_SIZE", "1");

#[tokio::test]
async fn the_first_write_maps_the_event_and_links_its_contact() {
    let app = hubspot_app(&[UNBATCHED]).await;
    hub(&app).add_contact("buyer@prospect.com", Some("Pat"));
    let current = event("evt-1", GRANT, CALENDAR, "Discovery call", 100);
    publish(&app, "n1", "event.created", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_first_write(hub(&app));
    hub(&app).assert_contract();
}

/// The burst throttle itself is a conformance scenario; what is HubSpot's own is the window
/// header read when `Retry-After` is missing.
#[tokio::test]
async fn without_retry_after_the_interval_header_sets_the_wait() {
    let app = hubspot_app(&[]).await;
    hub(&app).throttle([Throttle::TenSecondly {
        retry_after: None,
        interval_ms: 1_000,
    }]);
    publish_new(&app, "n2", "evt-2", "B").await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let requests = hub(&app).requests();
    let gap = requests[1].at.duration_since(requests[0].at);
    assert!(gap.as_millis() >= 900, "retried after {gap:?}");
    assert_eq!(requests[0].path, requests[1].path, "the same request again");
    assert_eq!(hub(&app).live_meetings().len(), 1);
    hub(&app).assert_contract();
}

#[tokio::test]
async fn a_portal_without_the_event_id_property_dead_letters_naming_it() {
    let app = hubspot_app(&[]).await;
    hub(&app).without_event_id_property();
    publish_new(&app, "n1", "evt-1", "A").await;
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
