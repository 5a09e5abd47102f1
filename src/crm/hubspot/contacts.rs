//! Linking a HubSpot meeting to the contacts of its attendees.
//!
//! - Which attendees: [`external_attendees`] (trimmed, lowercased, without the organizer and the
//!   `sync.internal_domains`).
//! - Lookup: `GET /crm/v3/objects/contacts/{email}?idProperty=email` (404 = no such contact),
//!   cached by [`ContactCache`] so a burst of meetings with one prospect costs one lookup. With
//!   `create_missing_contacts`, an unknown attendee becomes a contact (`POST
//!   /crm/v3/objects/contacts` with `email` and, when known, `firstname`/`lastname`; a 409 means
//!   someone created it meanwhile, and it is looked up again).
//! - Links: at create time in the create body (association type 200); after an update, the
//!   current links are read (`GET /crm/v4/objects/meetings/{id}/associations/contacts`, paged)
//!   and brought in line: missing ones are added with the default association (`PUT
//!   /crm/objects/2026-03/meetings/{id}/associations/default/contacts/{contactId}`), and links to
//!   contacts that are no longer attendees are removed (`DELETE
//!   /crm/objects/2026-03/meetings/{id}/associations/contacts/{contactId}`).
//!
//! Invariant: calsync owns the meeting's unlabelled (HubSpot-defined) contact links and leaves a
//! link alone when someone gave it an association label, since removing the pair would remove
//! the label too.

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::properties::split_name;
use super::{HubSpotAdapter, Object};
use crate::crm::CrmError;
use crate::crm::contacts::{external_attendees, normalize};
use crate::crm::vendor::{NO_BODY, decode, protocol_error};
use crate::record::MeetingRecord;

/// The contacts collection (v3, as in `contacts-v3.json`, the contacts spec calsync is checked
/// against).
const CONTACTS: &[&str] = &["crm", "v3", "objects", "contacts"];

/// Page size when reading a meeting's links.
const LINKS_PAGE: &str = "500";

/// The most pages of links read for one meeting (a safety bound, 25 000 links).
const MAX_LINK_PAGES: usize = 50;

/// One page of a meeting's contact links (associations v4).
#[derive(Debug, Deserialize)]
struct LinkPage {
    results: Vec<Link>,
    paging: Option<Paging>,
}

/// One contact link of a meeting, as both the per-meeting read and the batch read answer it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Link {
    to_object_id: Value,
    #[serde(default)]
    association_types: Vec<LinkType>,
}

#[derive(Debug, Deserialize)]
struct LinkType {
    category: Option<String>,
    label: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    next: Option<NextPage>,
}

#[derive(Debug, Deserialize)]
struct NextPage {
    after: String,
}

impl Link {
    /// The contact id (HubSpot sends it as a string; tolerate a number).
    pub(super) fn contact_id(&self) -> Option<String> {
        match &self.to_object_id {
            Value::String(id) => Some(id.clone()),
            Value::Number(id) => Some(id.to_string()),
            _ => None,
        }
    }

    /// True when someone labelled the link (calsync then leaves it alone).
    pub(super) fn is_labelled(&self) -> bool {
        self.association_types.iter().any(|kind| {
            kind.category.as_deref() != Some("HUBSPOT_DEFINED")
                || kind.label.as_deref().is_some_and(|label| !label.is_empty())
        })
    }
}

impl HubSpotAdapter {
    /// The contact ids to link, in attendee order; `None` when linking is off.
    pub(super) async fn contact_ids(
        &self,
        record: &MeetingRecord,
    ) -> Result<Option<Vec<String>>, CrmError> {
        if !self.linking.link_contacts {
            return Ok(None);
        }
        let mut ids = Vec::new();
        for email in external_attendees(record, &self.internal_domains) {
            let found = self
                .contacts
                .get_or_lookup(&email, |email| async move { self.lookup(&email).await })
                .await
                .map_err(CrmError::Shared)?;
            let id = match found {
                Some(id) => Some(id),
                None if self.linking.create_missing_contacts => {
                    Some(self.create_contact(record, &email).await?)
                }
                None => None,
            };
            if let Some(id) = id.filter(|id| !ids.contains(id)) {
                ids.push(id);
            }
        }
        Ok(Some(ids))
    }

    /// The contact with this email, if any.
    async fn lookup(&self, email: &str) -> Result<Option<String>, CrmError> {
        const OPERATION: &str = "hubspot contact lookup";
        let segments: Vec<&str> = CONTACTS.iter().copied().chain([email]).collect();
        let url = self.url(&segments);
        let sent = self
            .client
            .send(OPERATION, || {
                self.client
                    .request(Method::GET, &url)
                    .query(&[("idProperty", "email"), ("properties", "email")])
            })
            .await?;
        if !self.client.exists(OPERATION, &sent)? {
            return Ok(None);
        }
        let contact: Object = decode(OPERATION, &sent, "the contact has no id")?;
        Ok(Some(contact.id))
    }

    /// Creates a contact for an attendee; remembers it in the cache.
    async fn create_contact(
        &self,
        record: &MeetingRecord,
        email: &str,
    ) -> Result<String, CrmError> {
        const OPERATION: &str = "hubspot contact create";
        let name = record
            .attendees
            .iter()
            .find(|attendee| normalize(&attendee.email) == email)
            .and_then(|attendee| attendee.name.as_deref())
            .unwrap_or("");
        let mut properties = Map::new();
        properties.insert("email".into(), json!(email));
        let (first, last) = split_name(name);
        if let Some(first) = first {
            properties.insert("firstname".into(), json!(first));
        }
        if let Some(last) = last {
            properties.insert("lastname".into(), json!(last));
        }
        let body = json!({"properties": properties, "associations": []});
        let url = self.url(CONTACTS);
        let sent = self
            .client
            .exchange(OPERATION, Method::POST, &url, Some(&body))
            .await?;
        let id = match sent.answer.status {
            StatusCode::CONFLICT => self.lookup(email).await?.ok_or_else(|| {
                protocol_error(OPERATION, "409 for a contact that cannot be read")
            })?,
            status if status.is_success() => {
                decode::<Object>(OPERATION, &sent, "the created contact has no id")?.id
            }
            _ => return Err(self.client.status_error(OPERATION, &sent)),
        };
        tracing::info!("Created a HubSpot contact for an attendee.");
        self.contacts.remember(email, Some(id.clone())).await;
        Ok(id)
    }

    /// Brings the meeting's contact links in line with `wanted`.
    pub(super) async fn sync_links(
        &self,
        meeting_id: &str,
        wanted: &[String],
    ) -> Result<(), CrmError> {
        let current = self.links(meeting_id).await?;
        let missing: Vec<String> = wanted
            .iter()
            .filter(|id| {
                !current
                    .iter()
                    .any(|link| link.contact_id().as_ref() == Some(*id))
            })
            .cloned()
            .collect();
        self.link_each(meeting_id, &missing).await?;
        for link in &current {
            let Some(contact_id) = link.contact_id() else {
                continue;
            };
            if !wanted.contains(&contact_id) && !link.is_labelled() {
                self.unlink(meeting_id, &contact_id).await?;
            }
        }
        Ok(())
    }

    /// Adds the default association to each contact; a contact gone since is skipped.
    pub(super) async fn link_each(
        &self,
        meeting_id: &str,
        contact_ids: &[String],
    ) -> Result<(), CrmError> {
        const OPERATION: &str = "hubspot link contact";
        for contact_id in contact_ids {
            let url = self.meetings_url(&[
                meeting_id,
                "associations",
                "default",
                "contacts",
                contact_id,
            ]);
            let sent = self
                .client
                .exchange(OPERATION, Method::PUT, &url, NO_BODY)
                .await?;
            if !self.client.exists(OPERATION, &sent)? {
                tracing::warn!("A HubSpot contact to link no longer exists; skipping it.");
            }
        }
        Ok(())
    }

    async fn unlink(&self, meeting_id: &str, contact_id: &str) -> Result<(), CrmError> {
        const OPERATION: &str = "hubspot unlink contact";
        let url = self.meetings_url(&[meeting_id, "associations", "contacts", contact_id]);
        let sent = self
            .client
            .exchange(OPERATION, Method::DELETE, &url, NO_BODY)
            .await?;
        self.client.exists(OPERATION, &sent).map(|_| ())
    }

    /// Every contact link of the meeting, all pages.
    async fn links(&self, meeting_id: &str) -> Result<Vec<Link>, CrmError> {
        const OPERATION: &str = "hubspot read links";
        let url = self.url(&[
            "crm",
            "v4",
            "objects",
            "meetings",
            meeting_id,
            "associations",
            "contacts",
        ]);
        let mut links = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_LINK_PAGES {
            let sent = self
                .client
                .send(OPERATION, || {
                    let mut request = self
                        .client
                        .request(Method::GET, &url)
                        .query(&[("limit", LINKS_PAGE)]);
                    if let Some(after) = &after {
                        request = request.query(&[("after", after)]);
                    }
                    request
                })
                .await?;
            let sent = self.client.success(OPERATION, sent)?;
            let page: LinkPage = decode(OPERATION, &sent, "the links answer has no results")?;
            links.extend(page.results);
            after = page
                .paging
                .and_then(|paging| paging.next)
                .map(|next| next.after);
            if after.is_none() {
                return Ok(links);
            }
        }
        Err(protocol_error(
            OPERATION,
            "the meeting has too many contact links to read",
        ))
    }
}
