//! HubSpot contact linking through the pipeline: who is linked, links following the attendees,
//! cached lookups, contacts created on demand.

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::{Value, json};

use super::{CALENDAR, GRANT, hub, hubspot_app, publish};
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
async fn links_follow_the_attendees_and_spare_labelled_ones() {
    let app = hubspot_app(&[]).await;
    let hubspot = hub(&app);
    hubspot.page_links_by(1);
    hubspot.add_contact("buyer@prospect.com", Some("Pat"));
    hubspot.add_contact("cfo@prospect.com", None);
    hubspot.add_contact("new@prospect.com", None);
    hubspot.add_contact("cto@seller.com", None);
    hubspot.add_contact("owner@agency.com", None);
    let champion = hubspot.add_contact("champion@prospect.com", None);
    let people = [
        ("Buyer@Prospect.com ", "Pat Buyer"),
        ("cfo@prospect.com", "Chris"),
        ("cto@seller.com", "Colleague"),
        ("owner@agency.com", "Organizer"),
    ];
    let mut current = with_people(
        event("evt-1", GRANT, CALENDAR, "Demo", 100),
        "owner@agency.com",
        &people,
    );
    publish(&app, "n1", "event.created", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let meeting = hubspot.meetings_for("evt-1")[0].id.clone();
    // Not the organizer, not the internal colleague, not the room.
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

#[tokio::test]
async fn a_burst_of_meetings_with_one_prospect_costs_one_lookup() {
    let app = hubspot_app(&[]).await;
    let hubspot = hub(&app);
    hubspot.add_contact("buyer@prospect.com", Some("Pat"));
    for index in 0..3 {
        let id = format!("evt-{index}");
        let meeting = event(&id, GRANT, CALENDAR, "Call", 100);
        publish(&app, &format!("n{index}"), "event.created", &meeting).await;
    }
    assert_eq!(app.drain().await.len(), 3);
    let lookups = hubspot
        .calls()
        .iter()
        .filter(|call| call.starts_with("GET /crm/v3/objects/contacts/"))
        .count();
    assert_eq!(lookups, 1);
    for meeting in hubspot.live_meetings() {
        assert_eq!(hubspot.linked_emails(&meeting.id), ["buyer@prospect.com"]);
    }
    hubspot.assert_contract();
}

#[tokio::test]
async fn unknown_attendees_are_not_linked_unless_contacts_may_be_created() {
    let app = hubspot_app(&[]).await;
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    app.drain().await;
    let meeting = hub(&app).meetings_for("evt-1")[0].id.clone();
    assert!(hub(&app).linked_emails(&meeting).is_empty());
    assert!(hub(&app).contacts().is_empty());
    hub(&app).assert_contract();

    let app = hubspot_app(&[("CALSYNC__CRM__CREATE_MISSING_CONTACTS", "true")]).await;
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let contacts = hub(&app).contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].email, "buyer@prospect.com");
    assert_eq!(contacts[0].firstname.as_deref(), Some("Pat"));
    assert_eq!(contacts[0].lastname.as_deref(), Some("Buyer"));
    let meeting = hub(&app).meetings_for("evt-1")[0].id.clone();
    assert_eq!(hub(&app).linked_emails(&meeting), ["buyer@prospect.com"]);
    hub(&app).assert_contract();
}

#[tokio::test]
async fn linking_can_be_switched_off() {
    let app = hubspot_app(&[("CALSYNC__CRM__LINK_CONTACTS", "false")]).await;
    hub(&app).add_contact("buyer@prospect.com", Some("Pat"));
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(hub(&app).calls(), ["POST /crm/objects/2026-03/meetings"]);
    hub(&app).assert_contract();
}

#[tokio::test]
async fn a_contact_deleted_since_it_was_cached_does_not_block_the_meeting() {
    let app = hubspot_app(&[]).await;
    let buyer = hub(&app).add_contact("buyer@prospect.com", Some("Pat"));
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    app.drain().await;
    hub(&app).remove_contact(&buyer);

    // The cache still names the deleted contact: HubSpot refuses that association, so the
    // meeting is created without it, then linked one by one (the gone contact skipped).
    publish(
        &app,
        "n2",
        "event.created",
        &event("evt-2", GRANT, CALENDAR, "B", 100),
    )
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let meetings = hub(&app).meetings_for("evt-2");
    assert_eq!(meetings.len(), 1, "no duplicate from the second attempt");
    assert!(hub(&app).linked_emails(&meetings[0].id).is_empty());
    let calls = hub(&app).calls();
    let link = format!(
        "PUT /crm/objects/2026-03/meetings/{}/associations/default/contacts/{buyer}",
        meetings[0].id
    );
    assert!(calls.contains(&link), "{calls:?}");
    hub(&app).assert_contract();
}
