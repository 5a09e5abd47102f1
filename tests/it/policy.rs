//! What reaches the CRM (issue 10), through the whole pipeline (real router, worker and store)
//! against the fakes, with CRM call counts:
//!
//! - [`privacy`]: a private event redacted on every adapter, skipped under `skip` (its record
//!   removed when an event turns private);
//! - [`filters`]: each relevance filter excluding what it names and nothing else, a transition
//!   out of and back into a filter, calendar selection applied to webhooks with one calendar
//!   listing per burst;
//! - [`people`]: rooms never linked nor created as contacts, their name as the location;
//! - [`limits`]: a 70,000-character description accepted by every adapter;
//! - [`owners`]: the owner set from the organizer's email, one lookup per rep, unmapped counted.

mod filters;
mod limits;
mod owners;
mod people;
mod privacy;

use crate::crm_conformance::subject::Subject;
use crate::support::harness::{CrmFake, TestApp};

/// Every CRM kind with a fake.
pub const KINDS: [CrmFake; 4] = [
    CrmFake::Rest,
    CrmFake::HubSpot,
    CrmFake::Pipedrive,
    CrmFake::Salesforce,
];

/// A meeting's text fields as a vendor holds them.
#[derive(Debug)]
pub struct Content {
    pub title: String,
    /// Notes, body, note or description ("" when none).
    pub body: String,
    pub location: String,
    /// Every field, as JSON text: for "nothing of X anywhere" checks.
    pub everything: String,
}

/// The one live meeting of `event_id` in the fake of `kind`.
pub fn content(app: &TestApp, kind: CrmFake, event_id: &str) -> Content {
    let text = |value: &serde_json::Value| value.as_str().unwrap_or("").to_owned();
    match kind {
        CrmFake::Rest => {
            let records = app.crm.records_for(event_id);
            let live: Vec<_> = records.iter().filter(|r| !r.deleted).collect();
            assert_eq!(live.len(), 1, "{records:?}");
            let body = &live[0].body;
            Content {
                title: text(&body["meeting_subject"]),
                body: text(&body["notes"]),
                location: text(&body["meeting_location"]),
                everything: body.to_string(),
            }
        }
        CrmFake::HubSpot => {
            let meetings = app.hubspot().meetings_for(event_id);
            let live: Vec<_> = meetings.iter().filter(|m| !m.archived).collect();
            assert_eq!(live.len(), 1, "{meetings:?}");
            let meeting = live[0];
            Content {
                title: meeting.prop("hs_meeting_title").to_owned(),
                body: meeting.prop("hs_meeting_body").to_owned(),
                location: meeting.prop("hs_meeting_location").to_owned(),
                everything: serde_json::to_string(&meeting.properties).unwrap(),
            }
        }
        CrmFake::Pipedrive => {
            let activities = app.pipedrive().activities_for(event_id);
            let live: Vec<_> = activities.iter().filter(|a| !a.deleted).collect();
            assert_eq!(live.len(), 1, "{activities:?}");
            let fields = &live[0].fields;
            Content {
                title: text(&fields["subject"]),
                body: text(&fields["note"]),
                location: fields
                    .get("location")
                    .map(|l| text(&l["value"]))
                    .unwrap_or_default(),
                everything: serde_json::to_string(fields).unwrap(),
            }
        }
        CrmFake::Salesforce => {
            let events = app.salesforce.as_ref().unwrap().events_for(event_id);
            let live: Vec<_> = events.iter().filter(|e| !e.deleted).collect();
            assert_eq!(live.len(), 1, "{events:?}");
            let record = live[0];
            Content {
                title: record.text("Subject").to_owned(),
                body: record.text("Description").to_owned(),
                location: record.text("Location").to_owned(),
                everything: serde_json::to_string(&record.fields).unwrap(),
            }
        }
    }
}

/// `METHOD path` of every request the CRM fake received that touches a meeting (not contacts,
/// people or tokens).
pub fn meeting_calls(app: &TestApp, kind: CrmFake) -> Vec<String> {
    let marker = match kind {
        CrmFake::Rest => "/api/meetings",
        CrmFake::HubSpot => "/meetings",
        CrmFake::Pipedrive => "/activities",
        CrmFake::Salesforce => "/Event",
    };
    let requests = Subject::of(app, kind).requests();
    requests
        .into_iter()
        .filter(|seen| seen.path.contains(marker))
        .map(|seen| format!("{} {}", seen.method, seen.path))
        .collect()
}

/// Every request the CRM fake received (token requests left out).
pub fn crm_calls(app: &TestApp, kind: CrmFake) -> usize {
    Subject::of(app, kind).requests().len()
}

/// The value of `calsync_events_filtered_total{reason="<reason>"}`.
pub async fn filtered(app: &TestApp, reason: &str) -> u64 {
    let wanted = format!("calsync_events_filtered_total{{reason=\"{reason}\"}} ");
    let text = app.metrics().await;
    let line = text.lines().find(|line| line.starts_with(&wanted));
    let value = line.unwrap_or_else(|| panic!("no {wanted} in:\n{text}"));
    value[wanted.len()..].trim().parse().unwrap()
}
