//! A stateful fake HubSpot (`crms.md`, "HubSpot"): meetings with properties, archived by DELETE;
//! contacts found by email; meeting → contact associations (default and labelled); search on a
//! property; 429s with HubSpot's headers and bodies; token expiry (401).
//!
//! Like HubSpot it does not prevent duplicates, rejects properties the portal does not define
//! (the custom event id property exists only when the test says so, as an admin would create
//! it, with unique values unless the test says otherwise), and answers 404 to a PATCH of an archived meeting. Every request is first checked
//! against the official OpenAPI specs ([`Contract::hubspot`]): a violation is recorded and
//! answered 400, and [`FakeHubSpot::assert_contract`] fails the test. Its own answers are checked
//! against the response schemas too.

mod batch;
mod meetings;
mod people;
mod routes;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::any;
use serde_json::{Map, Value};

use super::fake_vendor::{Ledger, Recorded};
use super::server;

/// The private app token the fake accepts.
pub const HUBSPOT_TOKEN: &str = "pat-na1-test-4a5b6c7d";

/// The custom property holding calsync's event id (the configured default).
pub const EVENT_ID_PROPERTY: &str = "calsync_event_id";

/// One meeting.
#[derive(Debug, Clone)]
pub struct Meeting {
    pub id: String,
    pub properties: Map<String, Value>,
    pub archived: bool,
}

impl Meeting {
    /// A property's value ("" when unset).
    pub fn prop(&self, name: &str) -> &str {
        self.properties
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// One contact.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub email: String,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
}

/// A meeting → contact association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub meeting: String,
    pub contact: String,
    /// A user-defined label was added (e.g. "Decision maker").
    pub label: Option<String>,
}

/// A 429 to answer next.
#[derive(Debug, Clone, Copy)]
pub enum Throttle {
    /// The 10-second burst limit, with `Retry-After` seconds or not.
    TenSecondly {
        retry_after: Option<u64>,
        interval_ms: u64,
    },
    /// The daily limit.
    Daily,
}

#[derive(Default)]
pub(super) struct State {
    meetings: Vec<Meeting>,
    contacts: Vec<Contact>,
    links: Vec<Link>,
    next_id: u64,
    ledger: Ledger,
    throttles: VecDeque<Throttle>,
    /// 429s for the next batch upserts only (other requests pass).
    batch_throttles: VecDeque<Throttle>,
    token_expired: bool,
    lose_next_create: bool,
    custom_properties: Vec<String>,
    /// The custom properties created with unique values (usable as a batch `idProperty`).
    unique_properties: Vec<String>,
    /// The next batch upsert is carried out, but its answer is lost.
    lose_next_batch: bool,
    /// Batch upserts are carried out, but never answered (the caller waits until it dies).
    stall_batch_answers: bool,
    /// Event ids whose batch upsert or update input is refused as invalid (a record HubSpot
    /// rejects).
    rejected_events: Vec<String>,
    links_page_size: Option<usize>,
    /// Owners (CRM users): id and email.
    owners: Vec<(String, String)>,
}

/// Handle to a running fake HubSpot.
#[derive(Clone)]
pub struct FakeHubSpot {
    pub address: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeHubSpot {
    /// Starts the fake with the event id property defined in the portal.
    pub async fn start() -> FakeHubSpot {
        let state = State {
            custom_properties: vec![EVENT_ID_PROPERTY.to_owned()],
            unique_properties: vec![EVENT_ID_PROPERTY.to_owned()],
            next_id: 1000,
            ..State::default()
        };
        let state = Arc::new(Mutex::new(state));
        let router = Router::new()
            .fallback(any(routes::handle))
            .with_state(state.clone());
        let address = server::spawn(router).await;
        FakeHubSpot { address, state }
    }

    /// The base URL to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Meetings not archived.
    pub fn live_meetings(&self) -> Vec<Meeting> {
        self.with(|s| s.meetings.iter().filter(|m| !m.archived).cloned().collect())
    }

    /// Every meeting ever created for an event (archived ones and duplicates included).
    pub fn meetings_for(&self, event_id: &str) -> Vec<Meeting> {
        self.with(|s| {
            s.meetings
                .iter()
                .filter(|m| m.prop(EVENT_ID_PROPERTY) == event_id)
                .cloned()
                .collect()
        })
    }

    /// Adds a contact; returns its id.
    pub fn add_contact(&self, email: &str, firstname: Option<&str>) -> String {
        self.with(|s| s.add_contact(email, firstname, None))
    }

    /// Adds an owner (a HubSpot user who can own records); returns its id.
    pub fn add_owner(&self, email: &str) -> String {
        self.with(|s| {
            let id = s.new_id();
            s.owners.push((id.clone(), email.to_owned()));
            id
        })
    }

    /// Deletes a contact (and its links) as a user would in HubSpot.
    pub fn remove_contact(&self, contact_id: &str) {
        self.with(|s| {
            s.contacts.retain(|c| c.id != contact_id);
            s.links.retain(|l| l.contact != contact_id);
        });
    }

    /// Every contact.
    pub fn contacts(&self) -> Vec<Contact> {
        self.with(|s| s.contacts.clone())
    }

    /// The emails of the contacts linked to a meeting, sorted.
    pub fn linked_emails(&self, meeting_id: &str) -> Vec<String> {
        self.with(|s| {
            let mut emails: Vec<String> = s
                .links
                .iter()
                .filter(|link| link.meeting == meeting_id)
                .filter_map(|link| s.contacts.iter().find(|c| c.id == link.contact))
                .map(|contact| contact.email.clone())
                .collect();
            emails.sort();
            emails
        })
    }

    /// Links a contact to a meeting with a user-defined label, as a salesperson would.
    pub fn add_labelled_link(&self, meeting_id: &str, contact_id: &str, label: &str) {
        self.with(|s| {
            s.links.push(Link {
                meeting: meeting_id.to_owned(),
                contact: contact_id.to_owned(),
                label: Some(label.to_owned()),
            })
        });
    }

    /// Archives a meeting as a user deleting it in HubSpot would.
    pub fn archive(&self, meeting_id: &str) {
        self.with(|s| {
            if let Some(meeting) = s.meetings.iter_mut().find(|m| m.id == meeting_id) {
                meeting.archived = true;
            }
        });
    }

    /// The next requests are answered 429, in order.
    pub fn throttle(&self, throttles: impl IntoIterator<Item = Throttle>) {
        self.with(|s| s.throttles.extend(throttles));
    }

    /// The next batch upserts are answered 429, in order (other requests are not throttled).
    pub fn throttle_batch_upserts(&self, throttles: impl IntoIterator<Item = Throttle>) {
        self.with(|s| s.batch_throttles.extend(throttles));
    }

    /// The token stops working (401) until [`FakeHubSpot::renew_token`].
    pub fn expire_token(&self) {
        self.with(|s| s.token_expired = true);
    }

    /// The token works again.
    pub fn renew_token(&self) {
        self.with(|s| s.token_expired = false);
    }

    /// The next meeting create is carried out, but its answer is lost (504 from a proxy).
    pub fn lose_next_create(&self) {
        self.with(|s| s.lose_next_create = true);
    }

    /// The portal has no custom event id property (an admin forgot to create it).
    pub fn without_event_id_property(&self) {
        self.with(|s| {
            s.custom_properties.clear();
            s.unique_properties.clear();
        });
    }

    /// Removes a property's value from a meeting, as for a meeting written before that
    /// property was created (an operator switching `crm.event_id_property` to a new one).
    pub fn clear_property(&self, meeting_id: &str, property: &str) {
        self.with(|s| {
            if let Some(meeting) = s.meetings.iter_mut().find(|m| m.id == meeting_id) {
                meeting.properties.remove(property);
            }
        });
    }

    /// The event id property exists but was created without unique values.
    pub fn event_id_property_not_unique(&self) {
        self.with(|s| s.unique_properties.clear());
    }

    /// The next batch upsert is carried out, but its answer is lost (504 from a proxy).
    pub fn lose_next_batch(&self) {
        self.with(|s| s.lose_next_batch = true);
    }

    /// While `stalled`, batch upserts are carried out but never answered, as when the caller
    /// crashes while its batch is in flight.
    pub fn stall_batch_answers(&self, stalled: bool) {
        self.with(|s| s.stall_batch_answers = stalled);
    }

    /// Batch upserts of this event fail alone, as HubSpot does for an invalid input.
    pub fn reject_event(&self, event_id: &str) {
        self.with(|s| s.rejected_events.push(event_id.to_owned()));
    }

    /// Requests to `path` so far (any method).
    pub fn requests_to(&self, path: &str) -> usize {
        self.with(|s| s.ledger.requests.iter().filter(|r| r.path == path).count())
    }

    /// Every request to a meetings or associations write endpoint so far.
    pub fn write_requests(&self) -> usize {
        self.with(|s| {
            s.ledger
                .requests
                .iter()
                .filter(|r| r.method != "GET" && !r.path.ends_with("/search"))
                .filter(|r| r.path.contains("/meetings") || r.path.contains("/associations"))
                .count()
        })
    }

    /// Pages of the association list hold at most `size` links (to exercise paging).
    pub fn page_links_by(&self, size: usize) {
        self.with(|s| s.links_page_size = Some(size));
    }
}

impl State {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    fn add_contact(&mut self, email: &str, first: Option<&str>, last: Option<&str>) -> String {
        let id = self.new_id();
        self.contacts.push(Contact {
            id: id.clone(),
            email: email.to_lowercase(),
            firstname: first.map(str::to_owned),
            lastname: last.map(str::to_owned),
        });
        id
    }
}

impl Recorded for FakeHubSpot {
    fn with_ledger<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        self.with(|state| f(&mut state.ledger))
    }
}
