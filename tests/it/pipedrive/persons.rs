//! Pipedrive person linking through the pipeline: who becomes a participant, participants
//! following the attendees, cached searches, persons created on demand.

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::{Value, json};

use super::{CALENDAR, GRANT, pd, pipedrive_app, publish};
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
async fn participants_follow_the_attendees() {
    let app = pipedrive_app(&[]).await;
    let pipedrive = pd(&app);
    let buyer = pipedrive.add_person("Pat Buyer", "buyer@prospect.com");
    let cfo = pipedrive.add_person("Chris", "CFO@prospect.com");
    let newcomer = pipedrive.add_person("Nia", "new@prospect.com");
    pipedrive.add_person("Colleague", "cto@seller.com");
    pipedrive.add_person("Organizer", "owner@agency.com");
    let people = [
        ("buyer@prospect.com", "Pat Buyer"),
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
    let activity = &pipedrive.activities_for("evt-1")[0];
    // Not the organizer, not the internal colleague; the first is primary.
    assert_eq!(activity.participant_ids(), [buyer, cfo]);
    assert_eq!(activity.fields["participants"][0]["primary"], true);
    assert_eq!(activity.fields["participants"][1]["primary"], false);
    let attendees = activity.fields["attendees"].as_array().unwrap();
    assert_eq!(attendees.len(), 4, "every attendee is listed");
    assert_eq!(attendees[3]["is_organizer"], true);

    let people = [
        ("buyer@prospect.com", "Pat Buyer"),
        ("new@prospect.com", "Nia"),
    ];
    current = with_people(current, "owner@agency.com", &people);
    current["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let activity = &pipedrive.activities_for("evt-1")[0];
    assert_eq!(activity.participant_ids(), [buyer, newcomer]);
    pipedrive.assert_contract();
}

#[tokio::test]
async fn a_burst_of_meetings_with_one_prospect_costs_one_search() {
    let app = pipedrive_app(&[]).await;
    let buyer = pd(&app).add_person("Pat Buyer", "buyer@prospect.com");
    for index in 0..3 {
        let meeting = event(&format!("evt-{index}"), GRANT, CALENDAR, "Call", 100);
        publish(&app, &format!("n{index}"), "event.created", &meeting).await;
    }
    assert_eq!(app.drain().await.len(), 3);
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
    for activity in pd(&app).live_activities() {
        assert_eq!(activity.participant_ids(), [buyer]);
    }
    pd(&app).assert_contract();
}

#[tokio::test]
async fn unknown_attendees_become_persons_only_when_configured() {
    let app = pipedrive_app(&[]).await;
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    app.drain().await;
    assert!(
        pd(&app).activities_for("evt-1")[0]
            .participant_ids()
            .is_empty()
    );
    assert!(pd(&app).persons().is_empty());
    pd(&app).assert_contract();

    let app = pipedrive_app(&[("CALSYNC__CRM__CREATE_MISSING_CONTACTS", "true")]).await;
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let persons = pd(&app).persons();
    assert_eq!(persons.len(), 1);
    assert_eq!(persons[0].name, "Pat Buyer");
    assert_eq!(persons[0].emails, ["buyer@prospect.com"]);
    assert_eq!(
        pd(&app).activities_for("evt-1")[0].participant_ids(),
        [persons[0].id]
    );
    pd(&app).assert_contract();
}

#[tokio::test]
async fn a_person_deleted_since_it_was_cached_does_not_block_the_activity() {
    let app = pipedrive_app(&[]).await;
    let buyer = pd(&app).add_person("Pat Buyer", "buyer@prospect.com");
    publish(
        &app,
        "n1",
        "event.created",
        &event("evt-1", GRANT, CALENDAR, "A", 100),
    )
    .await;
    app.drain().await;
    pd(&app).remove_person(buyer);

    publish(
        &app,
        "n2",
        "event.created",
        &event("evt-2", GRANT, CALENDAR, "B", 100),
    )
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let activities = pd(&app).activities_for("evt-2");
    assert_eq!(activities.len(), 1, "no duplicate from the second attempt");
    assert!(!activities[0].fields.contains_key("participants"));
    pd(&app).assert_contract();
}
