//! Contact linking for Salesforce: which Contact or Lead each external attendee is.
//!
//! Invariants:
//! - Attendees are those of [`external_attendees`] (trimmed, lowercased, organizer and internal
//!   domains left out), looked up with SOQL whose literals are escaped ([`soql::literal`]).
//! - A Contact is preferred over a Lead: Leads are queried only for the emails no Contact has,
//!   and converted Leads are never linked.
//! - Results, found or not, are cached per email in the shared [`ContactCache`] (the value
//!   records whether the id is a Contact or a Lead). One lookup queries every attendee of the
//!   meeting still to be resolved at once and caches all their answers, so a meeting costs at
//!   most one Contact and one Lead query, and a burst of meetings with the same prospect one.
//! - With `create_missing_contacts`, an attendee that is neither gets a new Contact; a creation
//!   that Salesforce refuses for good (a validation or duplicate rule) leaves that attendee
//!   unlinked instead of failing the meeting.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::fields::{Links, truncate};
use super::session::Session;
use super::soql::{self, EMAILS_PER_QUERY, Person};
use crate::crm::CrmError;
use crate::crm::contacts::{ContactCache, external_attendees, normalize};
use crate::record::MeetingRecord;
use crate::retry::Retry;

/// Query pages followed at most per query (2,000 records each).
const MAX_PAGES: usize = 20;

/// `LastName` length.
const LAST_NAME_MAX: usize = 80;
/// `FirstName` length.
const FIRST_NAME_MAX: usize = 40;

/// One page of a SOQL answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryPage {
    #[serde(default)]
    records: Vec<QueryRecord>,
    #[serde(default = "yes")]
    done: bool,
    #[serde(default)]
    next_records_url: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct QueryRecord {
    #[serde(rename = "Id")]
    id: Option<String>,
    #[serde(rename = "Email")]
    email: Option<String>,
}

/// A created record's answer.
#[derive(Deserialize)]
struct Created {
    id: String,
}

/// A person an event can name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    Contact(String),
    Lead(String),
}

impl Who {
    /// The cache value.
    fn encode(&self) -> String {
        match self {
            Who::Contact(id) => format!("Contact:{id}"),
            Who::Lead(id) => format!("Lead:{id}"),
        }
    }

    fn decode(value: &str) -> Option<Who> {
        match value.split_once(':')? {
            ("Contact", id) => Some(Who::Contact(id.to_owned())),
            ("Lead", id) => Some(Who::Lead(id.to_owned())),
            _ => None,
        }
    }
}

/// Finds (and optionally creates) the people of a meeting.
pub struct Directory {
    cache: ContactCache,
    internal_domains: Vec<String>,
    create_missing: bool,
}

impl Directory {
    /// A directory leaving out `internal_domains`, creating missing contacts when asked.
    pub fn new(internal_domains: &[String], create_missing: bool) -> Self {
        Directory {
            cache: ContactCache::default(),
            internal_domains: internal_domains.to_vec(),
            create_missing,
        }
    }

    /// The links for the meeting's current attendees: their contacts in attendee order, and
    /// the first lead.
    pub async fn links(
        &self,
        session: &Session,
        record: &MeetingRecord,
    ) -> Result<Links, CrmError> {
        let emails = external_attendees(record, &self.internal_domains);
        let mut links = Links::default();
        for (index, email) in emails.iter().enumerate() {
            let pending = &emails[index..];
            let cached = self
                .cache
                .get_or_lookup(email, |key| self.resolve(session, record, key, pending))
                .await
                .map_err(CrmError::Shared)?;
            match cached.as_deref().and_then(Who::decode) {
                Some(Who::Contact(id)) if !links.contacts.contains(&id) => links.contacts.push(id),
                Some(Who::Lead(id)) if links.lead.is_none() => links.lead = Some(id),
                _ => {}
            }
        }
        Ok(links)
    }

    /// Looks up every `pending` email, caches the answers for all but `key`, and returns
    /// `key`'s (creating its contact when asked).
    async fn resolve(
        &self,
        session: &Session,
        record: &MeetingRecord,
        key: String,
        pending: &[String],
    ) -> Result<Option<String>, CrmError> {
        let contacts = query_people(session, Person::Contact, pending).await?;
        let missing: Vec<String> = pending
            .iter()
            .filter(|email| !contacts.contains_key(*email))
            .cloned()
            .collect();
        let leads = match missing.is_empty() {
            true => HashMap::new(),
            false => query_people(session, Person::Lead, &missing).await?,
        };
        let found = |email: &str| match (contacts.get(email), leads.get(email)) {
            (Some(id), _) => Some(Who::Contact(id.clone())),
            (None, Some(id)) => Some(Who::Lead(id.clone())),
            (None, None) => None,
        };
        for email in pending.iter().filter(|email| **email != key) {
            let who = found(email);
            // With creation on, an unknown attendee is left to its own lookup, which creates
            // the contact under the cache's one-call-per-email guarantee.
            if who.is_some() || !self.create_missing {
                self.cache
                    .remember(email, who.map(|who| who.encode()))
                    .await;
            }
        }
        match found(&key) {
            Some(who) => Ok(Some(who.encode())),
            None if self.create_missing => create_contact(session, record, &key).await,
            None => Ok(None),
        }
    }
}

/// Email → id of the oldest Contact or unconverted Lead with that email.
async fn query_people(
    session: &Session,
    person: Person,
    emails: &[String],
) -> Result<HashMap<String, String>, CrmError> {
    const OPERATION: &str = "salesforce query";
    let mut found = HashMap::new();
    for chunk in emails.chunks(EMAILS_PER_QUERY) {
        let query = soql::people_by_email(person, chunk);
        let mut answer = session
            .send(OPERATION, |token| {
                let url = format!("{}/query", token.api_base);
                session.http().get(url).query(&[("q", query.as_str())])
            })
            .await?;
        for _ in 0..MAX_PAGES {
            if !answer.status.is_success() {
                return Err(session.error(OPERATION, &answer));
            }
            let page: QueryPage =
                serde_json::from_slice(&answer.body).map_err(|error| CrmError::Protocol {
                    operation: OPERATION,
                    message: format!("the query answer is not a result page: {error}"),
                })?;
            for record in page.records {
                if let (Some(id), Some(email)) = (record.id, record.email) {
                    found.entry(normalize(&email)).or_insert(id);
                }
            }
            let Some(next) = page.next_records_url.filter(|_| !page.done) else {
                break;
            };
            answer = session
                .send(OPERATION, |token| {
                    session.http().get(format!("{}{next}", token.instance))
                })
                .await?;
        }
    }
    Ok(found)
}

/// `POST /sobjects/Contact` for an attendee; `None` when Salesforce refuses it for good.
async fn create_contact(
    session: &Session,
    record: &MeetingRecord,
    email: &str,
) -> Result<Option<String>, CrmError> {
    const OPERATION: &str = "salesforce create contact";
    let name = record
        .attendees
        .iter()
        .find(|attendee| normalize(&attendee.email) == email)
        .and_then(|attendee| attendee.name.as_deref());
    let body = contact_body(name, email);
    let answer = session
        .send(OPERATION, |token| {
            let url = format!("{}/sobjects/Contact", token.api_base);
            session.http().post(url).json(&body)
        })
        .await?;
    if answer.status.is_success() {
        let created: Created =
            serde_json::from_slice(&answer.body).map_err(|_| CrmError::Protocol {
                operation: OPERATION,
                message: "the answer has no id".to_owned(),
            })?;
        return Ok(Some(Who::Contact(created.id).encode()));
    }
    let error = session.error(OPERATION, &answer);
    if error.retry() != Retry::Permanent {
        return Err(error);
    }
    tracing::warn!(
        crm.kind = "salesforce",
        error = %crate::cause::Chain(&error),
        "Salesforce refused to create a contact for an attendee; the meeting is saved without that link."
    );
    Ok(None)
}

/// `LastName` (required), `FirstName` and `Email` of a new contact: the attendee's name split
/// at its last space, or, without a usable name, the email's local part as `LastName`.
fn contact_body(name: Option<&str>, email: &str) -> Map<String, Value> {
    let name = name
        .map(str::trim)
        .filter(|name| !name.is_empty() && !name.contains('@'));
    let (first, last) = match name.map(|name| name.rsplit_once(char::is_whitespace)) {
        Some(Some((first, last))) => (Some(first.trim()), last.trim()),
        Some(None) => (None, name.unwrap_or_default()),
        None => {
            let local = email.split('@').next().filter(|local| !local.is_empty());
            (None, local.unwrap_or(email))
        }
    };
    let mut body = Map::new();
    if let Some(first) = first.filter(|first| !first.is_empty()) {
        body.insert("FirstName".into(), json!(truncate(first, FIRST_NAME_MAX)));
    }
    body.insert("LastName".into(), json!(truncate(last, LAST_NAME_MAX)));
    body.insert("Email".into(), json!(email));
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_values_keep_the_kind_of_person() {
        for who in [Who::Contact("003A".into()), Who::Lead("00QB".into())] {
            assert_eq!(Who::decode(&who.encode()), Some(who));
        }
        assert_eq!(Who::decode("003A"), None);
    }

    #[test]
    fn new_contacts_are_named_from_the_attendee_or_the_email() {
        let body = contact_body(Some(" Pat  van Buyer "), "pat@prospect.com");
        assert_eq!(body["FirstName"], "Pat  van");
        assert_eq!(body["LastName"], "Buyer");
        assert_eq!(body["Email"], "pat@prospect.com");

        let body = contact_body(Some("Cher"), "cher@x.com");
        assert!(!body.contains_key("FirstName"));
        assert_eq!(body["LastName"], "Cher");

        for name in [None, Some("  "), Some("o'brien@x.com")] {
            let body = contact_body(name, "o'brien@x.com");
            assert_eq!(body["LastName"], "o'brien", "{name:?}");
            assert!(!body.contains_key("FirstName"));
        }
        let long = "L".repeat(100);
        assert_eq!(
            contact_body(Some(&long), "a@b.c")["LastName"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            LAST_NAME_MAX
        );
    }
}
