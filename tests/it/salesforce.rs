//! What is Salesforce's own, through the full pipeline against the fake Salesforce org
//! (notifications in through the real router, jobs drained by the real worker, Events out through
//! the Salesforce adapter): the fields written, contacts then leads, session renewal, Shared
//! Activities off, duplicates of the external id, contacts created on demand. The behaviour every
//! CRM shares is in `crm_conformance`. The adapter's
//! own behaviour is tested directly in `auth` (tokens, `check`), `writes` (answers, errors,
//! the allocation) and `links` (SOQL, paging), with the shared `rig`; sObject Collections
//! batches through the worker in `batch`, and their quota cost in `measure` (ignored).

mod auth;
mod batch;
mod links;
mod measure;
pub mod rig;
mod writes;

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::{Value, json};

use crate::support::fake_salesforce::{EXTERNAL_ID_FIELD, FakeSalesforce};
use crate::support::harness::{TestApp, TestAppBuilder};
use crate::support::payloads::{envelope, event};

const GRANT: &str = "grant-1";
const CALENDAR: &str = "team@group.calendar.google.com";

/// Participants, and the `WhoId` and `EventWhoIds` they should produce.
type Step<'a> = (&'a [(&'a str, &'a str)], Value, Value);

/// An app writing to a fake org, with `seller.com` as the internal domain.
fn builder() -> TestAppBuilder {
    TestApp::builder()
        .salesforce()
        .env("CALSYNC__SYNC__INTERNAL_DOMAINS", "seller.com")
}

async fn spawn(builder: TestAppBuilder) -> (TestApp, FakeSalesforce) {
    let app = builder.spawn().await;
    let org = app
        .salesforce
        .clone()
        .expect("the app writes to Salesforce");
    (app, org)
}

/// The event with these participants (the organizer stays `rep@seller.com`).
fn with_people(mut event: Value, people: &[(&str, &str)]) -> Value {
    let participants: Vec<Value> = people
        .iter()
        .map(|(email, name)| json!({"email": email, "name": name, "status": "yes"}))
        .collect();
    event["participants"] = json!(participants);
    event
}

/// Stores the event at the fake Nylas and notifies it.
async fn publish(app: &TestApp, event: &Value, notification: &str, trigger: &str) {
    app.nylas.put_event(event.clone());
    app.notify(&envelope(notification, trigger, event.clone()))
        .await;
}

fn edited(mut event: Value, version: i64, change: impl FnOnce(&mut Value)) -> Value {
    change(&mut event);
    event["updated_at"] = json!(version);
    event
}

#[tokio::test]
async fn the_first_write_maps_the_event_and_links_its_contact() {
    let (app, org) = spawn(builder()).await;
    let buyer = org.add_contact("buyer@prospect.com", "Buyer");
    let created = event("evt-1", GRANT, CALENDAR, "Discovery call", 100);
    publish(&app, &created, "n1", "event.created").await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let events = org.live_events();
    assert_eq!(events.len(), 1);
    let record = &events[0];
    assert_eq!(record.text(EXTERNAL_ID_FIELD), "evt-1");
    assert_eq!(record.text("Subject"), "Discovery call");
    assert_eq!(record.text("StartDateTime"), "2026-07-01T10:00:00Z");
    assert_eq!(record.text("EndDateTime"), "2026-07-01T10:45:00Z");
    assert_eq!(record.fields["IsAllDayEvent"], false);
    assert_eq!(record.text("Location"), "Zoom");
    assert_eq!(
        record.text("Description"),
        "Agenda:\npricing\n\nMeeting link: https://zoom.us/j/1"
    );
    assert_eq!(record.fields["WhoId"], json!(buyer));
    assert_eq!(record.fields["EventWhoIds"], json!([buyer]));
}

#[tokio::test]
async fn attendees_are_linked_to_contacts_then_leads_and_unlinked_when_removed() {
    // Queries for people only: no owner's User query.
    let (app, org) = spawn(builder().env("CALSYNC__CRM__OWNER", "none")).await;
    let buyer = org.add_contact("buyer@prospect.com", "Buyer");
    let champion = org.add_contact("Champion@Prospect.com", "Champion");
    org.add_lead("buyer@prospect.com", false); // the contact wins over a lead
    let lead = org.add_lead("lead@newco.com", false);
    let everyone = [
        ("Buyer@Prospect.com ", "Pat Buyer"),
        ("champion@prospect.com", "Cam Champion"),
        ("lead@newco.com", "Lee Lead"),
        ("colleague@eu.seller.com", "Col League"),
        ("rep@seller.com", "Rita Rep"),
    ];
    let first = with_people(event("evt-1", GRANT, CALENDAR, "Demo", 100), &everyone);
    publish(&app, &first, "n1", "event.created").await;
    app.drain().await;
    let linked = &org.live_events()[0];
    assert_eq!(linked.fields["WhoId"], json!(buyer));
    assert_eq!(linked.fields["EventWhoIds"], json!([buyer, champion]));
    let queries: Vec<String> = org
        .requests()
        .into_iter()
        .filter(|(_, path)| path.contains("/query?"))
        .map(|(_, path)| path)
        .collect();
    assert_eq!(
        queries.len(),
        2,
        "one Contact and one Lead query: {queries:?}"
    );
    assert!(
        queries.iter().all(|q| !q.contains("seller.com")),
        "{queries:?}"
    );

    let steps: [Step; 3] = [
        (&everyone[1..], json!(champion), json!([champion])),
        (&everyone[2..], json!(lead), json!([lead])),
        (&everyone[3..], Value::Null, json!([])),
    ];
    for (version, (people, who, list)) in (200..).zip(steps) {
        let next = edited(with_people(first.clone(), people), version, |_| {});
        publish(&app, &next, &format!("n{version}"), "event.updated").await;
        assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
        let record = &org.live_events()[0];
        assert_eq!(record.fields["WhoId"], who, "{version}");
        assert_eq!(record.fields["EventWhoIds"], list, "{version}");
    }
    assert_eq!(
        org.count("GET", "/query"),
        2,
        "later lookups come from the cache"
    );
}

#[tokio::test]
async fn an_expired_session_is_renewed_without_failing_the_job() {
    let (app, org) = spawn(builder()).await;
    let created = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, &created, "n1", "event.created").await;
    app.drain().await;
    assert_eq!(org.token_requests(), 1);

    org.expire_tokens();
    let moved = edited(created, 200, |e| e["title"] = json!("Demo (moved)"));
    publish(&app, &moved, "n2", "event.updated").await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    assert_eq!(org.token_requests(), 2);
    assert_eq!(org.live_events()[0].text("Subject"), "Demo (moved)");
}

#[tokio::test]
async fn without_shared_activities_events_are_linked_through_who_id_only() {
    let (app, org) = spawn(builder()).await;
    org.set_shared_activities(false);
    let buyer = org.add_contact("buyer@prospect.com", "Buyer");
    let first = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, &first, "n1", "event.created").await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let record = &org.live_events()[0];
    assert_eq!(record.fields["WhoId"], json!(buyer));
    assert!(!record.fields.contains_key("EventWhoIds"));
    assert_eq!(
        org.count("PATCH", "/sobjects/Event/"),
        2,
        "refused once, then sent without"
    );

    let second = event("evt-2", GRANT, CALENDAR, "Follow-up", 100);
    publish(&app, &second, "n2", "event.created").await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(
        org.count("PATCH", "/sobjects/Event/"),
        3,
        "remembered for the process"
    );
}

#[tokio::test]
async fn duplicates_of_the_external_id_dead_letter_with_a_clear_reason() {
    let (app, org) = spawn(builder()).await;
    org.plant_event("evt-1", "Imported twice");
    org.plant_event("evt-1", "Imported twice");
    let created = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, &created, "n1", "event.created").await;
    assert_eq!(app.drain().await, vec![Settled::DeadLettered]);
    let letters = app.store.list_dead_letters(10).await.unwrap();
    assert!(
        letters[0]
            .last_error
            .contains("duplicates of the external id exist"),
        "{}",
        letters[0].last_error
    );
    assert_eq!(org.events_for("evt-1").len(), 2, "nothing was added");
}

#[tokio::test]
async fn unknown_attendees_become_contacts_when_asked() {
    let (app, org) = spawn(builder().env("CALSYNC__CRM__CREATE_MISSING_CONTACTS", "true")).await;
    let people = [
        ("New.Person@Prospect.com", "Nia New"),
        ("o'brien@prospect.com", ""),
    ];
    let first = with_people(event("evt-1", GRANT, CALENDAR, "Intro", 100), &people);
    publish(&app, &first, "n1", "event.created").await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let contacts = org.contacts();
    assert_eq!(contacts.len(), 2);
    assert_eq!(
        (contacts[0].text("FirstName"), contacts[0].text("LastName")),
        ("Nia", "New")
    );
    assert_eq!(contacts[0].text("Email"), "new.person@prospect.com");
    assert_eq!(contacts[1].text("LastName"), "o'brien");
    let ids: Vec<&str> = contacts.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(org.live_events()[0].fields["EventWhoIds"], json!(ids));

    let second = with_people(event("evt-2", GRANT, CALENDAR, "Follow-up", 100), &people);
    publish(&app, &second, "n2", "event.created").await;
    app.drain().await;
    assert_eq!(org.contacts().len(), 2, "created once");
    assert_eq!(org.count("POST", "/sobjects/Contact"), 2);
}

#[tokio::test]
async fn a_refused_new_contact_leaves_the_meeting_unlinked_but_saved() {
    let (app, org) = spawn(builder().env("CALSYNC__CRM__CREATE_MISSING_CONTACTS", "true")).await;
    org.refuse_new_contacts();
    let first = event("evt-1", GRANT, CALENDAR, "Intro", 100);
    publish(&app, &first, "n1", "event.created").await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let record = &org.live_events()[0];
    assert_eq!(record.fields["WhoId"], Value::Null);
    assert!(org.contacts().is_empty());
}
