//! What is HubSpot's own in contact linking: a link someone labelled is left alone, and a
//! meeting's links are read page by page. (Links following the attendees, cached lookups and
//! contacts created on demand are conformance scenarios.)

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::{Value, json};

use super::{CALENDAR, GRANT, hub, hubspot_app, publish};
use crate::support::fake_vendor::Recorded;
use crate::support::payloads::event;

fn with_people(mut event: Value, organizer: &str, emails: &[(&str, &str)]) -> Value {
    event["organizer"] = json!({"email": organizer, "name": "Organizer"});
    let mut participants: Vec<Value> = emails
        .iter()
        .map(|(email, name)| json!({"email": email, "name": name, "status": "yes"}))
        .collect();
    participants.push(json!({"name": "Room 4"}));
    event["participants"] = Value::Array(participants);
    event
}

#[tokio::test]
async fn a_labelled_link_is_spared_and_links_are_read_page_by_page() {
    let app = hubspot_app(&[super::UNBATCHED]).await;
    let hubspot = hub(&app);
    hubspot.page_links_by(1);
    hubspot.add_contact("buyer@prospect.com", Some("Pat"));
    hubspot.add_contact("cfo@prospect.com", None);
    hubspot.add_contact("new@prospect.com", None);
    let champion = hubspot.add_contact("champion@prospect.com", None);
    let people = [
        ("Buyer@Prospect.com ", "Pat Buyer"),
        ("cfo@prospect.com", "Chris"),
    ];
    let mut current = with_people(
        event("evt-1", GRANT, CALENDAR, "Demo", 100),
        "owner@agency.com",
        &people,
    );
    publish(&app, "n1", "event.created", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let meeting = hubspot.meetings_for("evt-1")[0].id.clone();
    assert_eq!(
        hubspot.linked_emails(&meeting),
        ["buyer@prospect.com", "cfo@prospect.com"]
    );

    // A salesperson labels a link by hand; then the CFO leaves and someone new joins.
    hubspot.add_labelled_link(&meeting, &champion, "Champion");
    let people = [
        ("buyer@prospect.com", "Pat Buyer"),
        ("new@prospect.com", "Nia"),
    ];
    current = with_people(current, "owner@agency.com", &people);
    current["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    assert_eq!(
        hubspot.linked_emails(&meeting),
        [
            "buyer@prospect.com",
            "champion@prospect.com",
            "new@prospect.com"
        ]
    );
    let calls = hubspot.calls();
    let reads = format!("GET /crm/v4/objects/meetings/{meeting}/associations/contacts");
    assert!(
        calls.iter().filter(|call| **call == reads).count() >= 3,
        "paged: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|call| call.starts_with("DELETE") && call.contains("/associations/contacts/"))
    );
    assert!(calls.iter().any(|call| call.starts_with("PUT") && call.contains("/associations/default/contacts/")));
    hubspot.assert_contract();
}
