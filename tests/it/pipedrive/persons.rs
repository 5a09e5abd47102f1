//! What is Pipedrive's own in person linking: the first participant is primary, every attendee
//! is listed, and persons are searched by exact email. (Participants following the attendees,
//! cached searches and persons created on demand are conformance scenarios.)

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::{Value, json};

use super::{CALENDAR, GRANT, pd, pipedrive_app, publish};
use crate::support::fake_vendor::Recorded;
use crate::support::payloads::event;

fn with_people(mut event: Value, organizer: &str, emails: &[(&str, &str)]) -> Value {
    event["organizer"] = json!({"email": organizer, "name": "Organizer"});
    let participants: Vec<Value> = emails
        .iter()
        .map(|(email, name)| json!({"email": email, "name": name, "status": "yes"}))
        .collect();
    event["participants"] = Value::Array(participants);
    event
}

#[tokio::test]
async fn the_first_participant_is_primary_and_every_attendee_is_listed() {
    let app = pipedrive_app(&[]).await;
    let pipedrive = pd(&app);
    let buyer = pipedrive.add_person("Pat Buyer", "buyer@prospect.com");
    let cfo = pipedrive.add_person("Chris", "CFO@prospect.com");
    let people = [
        ("buyer@prospect.com", "Pat Buyer"),
        ("cfo@prospect.com", "Chris"),
        ("cto@seller.com", "Colleague"),
        ("owner@agency.com", "Organizer"),
    ];
    let current = with_people(
        event("evt-1", GRANT, CALENDAR, "Demo", 100),
        "owner@agency.com",
        &people,
    );
    publish(&app, "n1", "event.created", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let activity = &pipedrive.activities_for("evt-1")[0];
    assert_eq!(activity.participant_ids(), [buyer, cfo]);
    assert_eq!(activity.fields["participants"][0]["primary"], true);
    assert_eq!(activity.fields["participants"][1]["primary"], false);
    let attendees = activity.fields["attendees"].as_array().unwrap();
    assert_eq!(attendees.len(), 4, "every attendee is listed");
    assert_eq!(attendees[3]["is_organizer"], true);
    pipedrive.assert_contract();
}

#[tokio::test]
async fn a_person_is_searched_by_exact_email() {
    let app = pipedrive_app(&[]).await;
    pd(&app).add_person("Pat Buyer", "buyer@prospect.com");
    let meeting = event("evt-1", GRANT, CALENDAR, "Call", 100);
    publish(&app, "n1", "event.created", &meeting).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let searches: Vec<_> = pd(&app)
        .requests()
        .into_iter()
        .filter(|seen| seen.path == "/api/v2/persons/search")
        .collect();
    assert_eq!(searches.len(), 1);
    let query = searches[0].query.clone().unwrap_or_default();
    assert!(
        query.contains("exact_match=true") && query.contains("fields=email"),
        "{query}"
    );
    assert!(query.contains("term=buyer%40prospect.com"), "{query}");
    pd(&app).assert_contract();
}
