//! Rooms and groups are not people.

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::json;

use super::{KINDS, content};
use crate::crm_conformance::subject::Subject;
use crate::support::crm_app::{CALENDAR, GRANT, app, publish};
use crate::support::harness::CrmFake;
use crate::support::payloads::event;

const ROOM: &str = "c_1889abc@resource.calendar.google.com";

fn meeting_in_a_room() -> serde_json::Value {
    let mut meeting = event("evt-room", GRANT, CALENDAR, "Discovery call", 100);
    meeting["location"] = json!(null);
    meeting["participants"] = json!([
        {"email": "buyer@prospect.com", "name": "Pat Buyer", "status": "yes"},
        {"email": ROOM, "name": "Berlin-4-Ocean (8)", "status": "yes"},
        {"email": "beamer-2@seller.com", "name": "Beamer 2", "status": "yes"}
    ]);
    meeting["resources"] = json!([{"email": "beamer-2@seller.com", "name": "Beamer 2"}]);
    meeting
}

#[tokio::test]
async fn a_room_is_never_linked_nor_created_as_a_contact_and_names_the_location() {
    for kind in KINDS {
        let app = app(
            kind,
            &[("CALSYNC__CRM__CREATE_MISSING_CONTACTS", "true")],
            false,
        )
        .await;
        publish(&app, "n1", "event.created", &meeting_in_a_room()).await;
        assert_eq!(
            app.drain().await,
            vec![Settled::Done(SyncOutcome::Created)],
            "{kind:?}"
        );
        let written = content(&app, kind, "evt-room");
        assert_eq!(written.location, "Beamer 2, Berlin-4-Ocean (8)", "{kind:?}");
        // No request of any kind names the room or the beamer: no lookup, no contact.
        let requests = Subject::of(&app, kind).requests();
        for seen in &requests {
            let text = format!("{} {}", seen.path, seen.query);
            assert!(
                !text.contains("resource.calendar") && !text.contains("beamer"),
                "{kind:?}: {text}"
            );
        }
        match kind {
            CrmFake::Rest => {
                let body = &app.crm.records_for("evt-room")[0].body;
                assert_eq!(body["attendees"].as_array().unwrap().len(), 1);
                assert_eq!(body["attendees"][0]["email"], "buyer@prospect.com");
            }
            CrmFake::HubSpot => {
                let hubspot = app.hubspot();
                let emails: Vec<String> = hubspot.contacts().into_iter().map(|c| c.email).collect();
                assert_eq!(emails, ["buyer@prospect.com"]);
                let meeting = &hubspot.meetings_for("evt-room")[0];
                assert_eq!(hubspot.linked_emails(&meeting.id), ["buyer@prospect.com"]);
            }
            CrmFake::Pipedrive => {
                let emails: Vec<String> = app
                    .pipedrive()
                    .persons()
                    .into_iter()
                    .flat_map(|p| p.emails)
                    .collect();
                assert_eq!(emails, ["buyer@prospect.com"]);
                assert!(!written.everything.contains("resource.calendar"));
            }
            CrmFake::Salesforce => {
                let org = app.salesforce.as_ref().unwrap();
                let contacts = org.contacts();
                let emails: Vec<&str> = contacts.iter().map(|c| c.text("Email")).collect();
                assert_eq!(emails, ["buyer@prospect.com"]);
            }
        }
    }
}
