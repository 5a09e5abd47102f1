//! Linking meetings to the CRM's people, in every CRM that has them: links follow the external
//! attendees, one lookup per prospect, people created only when asked, a person deleted since
//! its lookup never blocks a meeting, and linking can be switched off.

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::{Value, json};

use super::people::participants;
use super::subject::Subject;
use super::{CALENDAR, GRANT, app, not_applicable, publish, publish_new};
use crate::support::harness::CrmFake;
use crate::support::payloads::event;

/// The event with this organizer and these attendees (plus a room).
fn with_people(mut event: Value, organizer: &str, people: &[(&str, &str)]) -> Value {
    event["organizer"] = json!({"email": organizer, "name": "Organizer"});
    event["participants"] = participants(people);
    event
}

pub async fn links_follow_the_attendees(kind: CrmFake) {
    let app = app(kind, &[], false).await;
    let crm = Subject::of(&app, kind);
    if !crm.links_people() {
        return not_applicable(kind, "no contacts");
    }
    crm.add_person("buyer@prospect.com", "Pat", "Buyer");
    crm.add_person("cfo@prospect.com", "Chris", "Cfo");
    crm.add_person("new@prospect.com", "Nia", "New");
    crm.add_person("cto@seller.com", "Col", "League");
    crm.add_person("owner@agency.com", "Olga", "Organizer");
    let people = [
        ("Buyer@Prospect.com ", "Pat Buyer"),
        ("cfo@prospect.com", "Chris"),
        ("cto@seller.com", "Colleague"),
        ("owner@agency.com", "Organizer"),
    ];
    let first = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    let mut current = with_people(first, "owner@agency.com", &people);
    publish(&app, "n1", "event.created", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let meeting = crm.live_for("evt-1")[0].id.clone();
    // Not the organizer, not the internal colleague, not the room.
    assert_eq!(
        crm.linked(&meeting),
        ["buyer@prospect.com", "cfo@prospect.com"]
    );

    // The CFO leaves and someone new joins.
    let people = [
        ("buyer@prospect.com", "Pat Buyer"),
        ("new@prospect.com", "Nia"),
    ];
    current = with_people(current, "owner@agency.com", &people);
    current["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    assert_eq!(
        crm.linked(&meeting),
        ["buyer@prospect.com", "new@prospect.com"]
    );
    crm.assert_contract();
}

pub async fn one_lookup_per_prospect(kind: CrmFake) {
    let app = app(kind, &[], false).await;
    let crm = Subject::of(&app, kind);
    if !crm.links_people() {
        return not_applicable(kind, "no contacts");
    }
    crm.add_person("buyer@prospect.com", "Pat", "Buyer");
    for index in 0..3 {
        let meeting = event(&format!("evt-{index}"), GRANT, CALENDAR, "Call", 100);
        publish(&app, &format!("n{index}"), "event.created", &meeting).await;
    }
    assert_eq!(app.drain().await.len(), 3);
    assert_eq!(crm.lookups(), 1, "{:?}", crm.requests());
    let live = crm.live();
    assert_eq!(live.len(), 3);
    for meeting in live {
        assert_eq!(crm.linked(&meeting.id), ["buyer@prospect.com"]);
    }
    crm.assert_contract();
}

pub async fn people_created_only_when_asked(kind: CrmFake) {
    let app = app(kind, &[], false).await;
    let crm = Subject::of(&app, kind);
    if !crm.links_people() {
        return not_applicable(kind, "no contacts");
    }
    let first = event("evt-1", GRANT, CALENDAR, "A", 100);
    publish(&app, "n1", "event.created", &first).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let meeting = crm.live_for("evt-1")[0].id.clone();
    assert!(crm.linked(&meeting).is_empty());
    assert!(crm.people().is_empty());
    crm.assert_contract();

    let app = super::app(
        kind,
        &[("CALSYNC__CRM__CREATE_MISSING_CONTACTS", "true")],
        false,
    )
    .await;
    let crm = Subject::of(&app, kind);
    publish(&app, "n1", "event.created", &first).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let people = crm.people();
    assert_eq!(people.len(), 1, "{people:?}");
    assert_eq!(people[0].email, "buyer@prospect.com");
    assert_eq!(people[0].name, "Pat Buyer");
    let meeting = crm.live_for("evt-1")[0].id.clone();
    assert_eq!(crm.linked(&meeting), ["buyer@prospect.com"]);
    crm.assert_contract();
}

pub async fn a_person_deleted_since_its_lookup(kind: CrmFake) {
    let app = app(kind, &[], false).await;
    let crm = Subject::of(&app, kind);
    match kind {
        CrmFake::Rest => return not_applicable(kind, "no contacts"),
        CrmFake::Salesforce => {
            return not_applicable(kind, "the meeting waits for the lookup to expire instead");
        }
        _ => {}
    }
    let buyer = crm.add_person("buyer@prospect.com", "Pat", "Buyer");
    publish_new(&app, "n1", "evt-1", "A").await;
    app.drain().await;
    crm.remove_person(&buyer);

    // The cache still names the deleted person: the meeting is written without that link.
    publish_new(&app, "n2", "evt-2", "B").await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let meetings = crm.live_for("evt-2");
    assert_eq!(meetings.len(), 1, "no duplicate from the second attempt");
    crm.assert_written_without_stale_link(&meetings[0].id, &buyer);
    crm.assert_contract();
}

pub async fn linking_switched_off(kind: CrmFake) {
    if kind == CrmFake::Rest {
        return not_applicable(kind, "no contacts");
    }
    // No owner either: the owner lookup is the ownership tests' business.
    let env = [
        ("CALSYNC__CRM__LINK_CONTACTS", "false"),
        ("CALSYNC__CRM__OWNER", "none"),
    ];
    let app = app(kind, &env, false).await;
    let crm = Subject::of(&app, kind);
    crm.add_person("buyer@prospect.com", "Pat", "Buyer");
    publish_new(&app, "n1", "evt-1", "A").await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    // One request: the create, no lookup.
    let requests = crm.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(crm.lookups(), 0);
    let meeting = crm.live_for("evt-1")[0].id.clone();
    assert!(crm.linked(&meeting).is_empty());
    crm.assert_contract();
}
