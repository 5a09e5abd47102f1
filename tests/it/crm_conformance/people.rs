//! The contact side of a [`Subject`]: adding and removing the CRM's people, reading who a
//! meeting is linked to (as emails), and counting lookups. The generic REST target has no
//! contacts: every method says so with `None`/`false`.

use serde_json::Value;

use super::subject::{Request, Subject};
use crate::support::fake_vendor::Recorded;

/// A person as the CRM holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    /// First and last name, as one string.
    pub name: String,
}

impl Subject {
    /// True when the kind links meetings to the CRM's people.
    pub fn links_people(&self) -> bool {
        !matches!(self, Subject::Rest(_))
    }

    /// Adds a person named `first last`; their CRM id.
    pub fn add_person(&self, email: &str, first: &str, last: &str) -> String {
        match self {
            Subject::HubSpot(hub) => hub.add_contact(email, Some(first)),
            Subject::Pipedrive(pd) => pd.add_person(&format!("{first} {last}"), email).to_string(),
            Subject::Salesforce(org) => org.add_contact(email, last),
            Subject::Rest(_) => unreachable!("the REST target has no contacts"),
        }
    }

    /// Deletes a person in the CRM (as a merge does).
    pub fn remove_person(&self, id: &str) {
        match self {
            Subject::HubSpot(hub) => hub.remove_contact(id),
            Subject::Pipedrive(pd) => pd.remove_person(id.parse().unwrap()),
            Subject::Salesforce(org) => org.delete_record(id),
            Subject::Rest(_) => unreachable!("the REST target has no contacts"),
        }
    }

    /// The people the CRM holds, in creation order.
    pub fn people(&self) -> Vec<Person> {
        match self {
            Subject::HubSpot(hub) => hub
                .contacts()
                .into_iter()
                .map(|contact| Person {
                    email: contact.email,
                    name: join(contact.firstname.as_deref(), contact.lastname.as_deref()),
                })
                .collect(),
            Subject::Pipedrive(pd) => pd
                .persons()
                .into_iter()
                .map(|person| Person {
                    email: person.emails.join(","),
                    name: person.name,
                })
                .collect(),
            Subject::Salesforce(org) => org
                .contacts()
                .into_iter()
                .filter(|contact| !contact.deleted)
                .map(|contact| Person {
                    email: contact.text("Email").to_owned(),
                    name: join(
                        Some(contact.text("FirstName")),
                        Some(contact.text("LastName")),
                    ),
                })
                .collect(),
            Subject::Rest(_) => Vec::new(),
        }
    }

    /// The emails of the people the meeting `id` is linked to, sorted.
    pub fn linked(&self, id: &str) -> Vec<String> {
        let mut emails = match self {
            Subject::HubSpot(hub) => hub.linked_emails(id),
            Subject::Pipedrive(pd) => {
                let activity = pd
                    .live_activities()
                    .into_iter()
                    .find(|a| a.id.to_string() == id);
                let ids = activity.map(|a| a.participant_ids()).unwrap_or_default();
                let persons = pd.persons();
                let email = |pid: i64| {
                    persons
                        .iter()
                        .find(|p| p.id == pid)
                        .map(|p| p.emails[0].clone())
                };
                ids.into_iter().filter_map(email).collect()
            }
            Subject::Salesforce(org) => {
                let event = org.live_events().into_iter().find(|e| e.id == id);
                let who: Vec<String> = event
                    .and_then(|e| e.fields.get("EventWhoIds").cloned())
                    .and_then(|ids| ids.as_array().cloned())
                    .into_iter()
                    .flatten()
                    .filter_map(|value| value.as_str().map(str::to_owned))
                    .collect();
                let contacts = org.contacts();
                let email = |cid: &String| {
                    let found = contacts.iter().find(|c| &c.id == cid);
                    found.map(|c| c.text("Email").to_lowercase())
                };
                who.iter().filter_map(email).collect()
            }
            Subject::Rest(_) => Vec::new(),
        };
        emails.sort();
        emails
    }

    /// How many people lookups (contact reads, person searches, SOQL queries) were sent.
    pub fn lookups(&self) -> usize {
        let lookup = |seen: &Request| match self {
            Subject::HubSpot(_) => seen.path.starts_with("/crm/v3/objects/contacts/"),
            Subject::Pipedrive(_) => seen.path == "/api/v2/persons/search",
            // Contact and Lead queries; the owner's User query is not a person lookup.
            Subject::Salesforce(_) => seen.path.ends_with("/query") && !seen.query.contains("User"),
            Subject::Rest(_) => false,
        };
        let requests = self.requests().into_iter();
        requests
            .filter(|seen| seen.method == "GET" && lookup(seen))
            .count()
    }

    /// After a linked person was deleted since its cached lookup, the next meeting was written
    /// without that link, the vendor's way: HubSpot refuses the association and links one by one
    /// (the gone contact skipped); Pipedrive refuses the participants and the activity is
    /// written without touching them.
    pub fn assert_written_without_stale_link(&self, meeting: &str, person: &str) {
        match self {
            Subject::HubSpot(hub) => {
                let link = format!(
                    "PUT /crm/objects/2026-03/meetings/{meeting}/associations/default/contacts/{person}"
                );
                assert!(hub.calls().contains(&link), "{:?}", hub.calls());
            }
            Subject::Pipedrive(pd) => {
                let activity = pd
                    .live_activities()
                    .into_iter()
                    .find(|a| a.id.to_string() == meeting);
                assert!(!activity.unwrap().fields.contains_key("participants"));
            }
            Subject::Salesforce(_) | Subject::Rest(_) => {
                unreachable!("Salesforce delays the meeting instead (its own test)")
            }
        }
        assert!(self.linked(meeting).is_empty());
    }
}

fn join(first: Option<&str>, last: Option<&str>) -> String {
    let parts = [first.unwrap_or(""), last.unwrap_or("")];
    let parts: Vec<&str> = parts.into_iter().filter(|part| !part.is_empty()).collect();
    parts.join(" ")
}

/// Participants for an event: these attendees plus a room without an email.
pub fn participants(people: &[(&str, &str)]) -> Value {
    let mut list: Vec<Value> = people
        .iter()
        .map(|(email, name)| serde_json::json!({"email": email, "name": name, "status": "yes"}))
        .collect();
    list.push(serde_json::json!({"name": "Room 4"}));
    Value::Array(list)
}
