//! Linking a Pipedrive activity to the persons of its attendees.
//!
//! - Which attendees: [`external_attendees`] (trimmed, lowercased, without the organizer and the
//!   `sync.internal_domains`).
//! - Lookup: `GET /api/v2/persons/search?term=<email>&fields=email&exact_match=true`, cached by
//!   [`ContactCache`] (the search costs 20 tokens, so a burst of meetings with one prospect pays
//!   once). Among the results, a person whose emails include the address wins; else the first.
//! - With `create_missing_contacts`, an unknown attendee becomes a person (`POST
//!   /api/v2/persons` with the name, or the email when there is none, and the email as primary).
//! - Links: the activity's `participants` list is the linked persons, the first one primary. Every
//!   write sends the whole list, so a person whose attendee left the event is unlinked by the
//!   next write. calsync owns the participants of the activities it writes.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::{Person, PipedriveAdapter};
use crate::crm::CrmError;
use crate::crm::contacts::{external_attendees, normalize};
use crate::crm::vendor::protocol_error;
use crate::record::MeetingRecord;

/// `data.items[].item` of a person search.
#[derive(Debug, Deserialize)]
struct SearchData {
    #[serde(default)]
    items: Vec<SearchItem>,
}

#[derive(Debug, Deserialize)]
struct SearchItem {
    item: FoundPerson,
}

#[derive(Debug, Deserialize)]
struct FoundPerson {
    id: i64,
    #[serde(default)]
    emails: Vec<String>,
}

impl PipedriveAdapter {
    /// The persons to link, in attendee order; `None` when linking is off.
    pub(super) async fn persons_for(
        &self,
        record: &MeetingRecord,
    ) -> Result<Option<Vec<Person>>, CrmError> {
        if !self.linking.link_contacts {
            return Ok(None);
        }
        let mut persons: Vec<Person> = Vec::new();
        for email in external_attendees(record, &self.internal_domains) {
            let found = self
                .persons
                .get_or_lookup(&email, |email| async move { self.search(&email).await })
                .await
                .map_err(CrmError::Shared)?;
            let id = match found.and_then(|id| id.parse::<i64>().ok()) {
                Some(id) => Some(id),
                None if self.linking.create_missing_contacts => {
                    Some(self.create_person(record, &email).await?)
                }
                None => None,
            };
            if let Some(id) = id.filter(|id| !persons.iter().any(|person| person.id == *id)) {
                persons.push(Person { email, id });
            }
        }
        Ok(Some(persons))
    }

    /// The person with this email, if any.
    async fn search(&self, email: &str) -> Result<Option<String>, CrmError> {
        const OPERATION: &str = "pipedrive person search";
        let url = self.url(&["persons", "search"]);
        let sent = self
            .client
            .send(OPERATION, || {
                self.client.request(Method::GET, &url).query(&[
                    ("term", email),
                    ("fields", "email"),
                    ("exact_match", "true"),
                ])
            })
            .await?;
        let sent = self.client.success(OPERATION, sent)?;
        let data = serde_json::from_slice::<super::Envelope<SearchData>>(&sent.answer.body)
            .map_err(|_| protocol_error(OPERATION, "the search answer is not a person list"))?
            .data
            .map(|data| data.items)
            .unwrap_or_default();
        let best = data
            .iter()
            .find(|found| found.item.emails.iter().any(|e| normalize(e) == email))
            .or_else(|| data.first());
        Ok(best.map(|found| found.item.id.to_string()))
    }

    /// Creates a person for an attendee; remembers it in the cache.
    async fn create_person(&self, record: &MeetingRecord, email: &str) -> Result<i64, CrmError> {
        const OPERATION: &str = "pipedrive person create";
        let name = record
            .attendees
            .iter()
            .find(|attendee| normalize(&attendee.email) == email)
            .and_then(|attendee| attendee.name.as_deref())
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .unwrap_or(email);
        let body = json!({
            "name": name,
            "emails": [{"value": email, "primary": true, "label": "work"}]
        });
        let url = self.url(&["persons"]);
        let sent = self
            .client
            .exchange(OPERATION, Method::POST, &url, Some(&body))
            .await?;
        let sent = self.client.success(OPERATION, sent)?;
        let id = Self::created_id(OPERATION, &sent)?;
        tracing::info!("Created a Pipedrive person for an attendee.");
        self.persons.remember(email, Some(id.to_string())).await;
        Ok(id)
    }
}
