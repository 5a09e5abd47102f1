//! A stateful fake Salesforce org that follows `crms.md` ("Salesforce") exactly:
//!
//! - `POST /services/oauth2/token` (form, `grant_type=client_credentials`, client id and
//!   secret) → `{access_token, instance_url, …}`; wrong credentials → 400 `invalid_client`.
//!   Tokens stay valid until [`FakeSalesforce::expire_tokens`]; an expired or unknown token gets
//!   401 `[{"errorCode":"INVALID_SESSION_ID", …}]`.
//! - Every API answer carries `Sforce-Limit-Info: api-usage=used/limit`; once `used` reaches
//!   `limit`, requests get 403 `REQUEST_LIMIT_EXCEEDED` (no 429, no `Retry-After`).
//! - Events upserted by external id (201/200, 204 before v46, 300 for duplicates), one by one
//!   or through sObject Collections (up to 200 per request, v46+), deleted to the Recycle Bin
//!   (one by one or by collections), read back by external id, described; Contacts and Leads queried by email
//!   with a strict SOQL parser (an unescaped quote is a `MALFORMED_QUERY`), Contacts created.
//! - `EventWhoIds` exists only with Shared Activities on; otherwise it is `INVALID_FIELD`.
//! - Errors are the JSON array `[{message, errorCode, fields}]`.
//!
//! Submodules: `sobjects` (Event and Contact semantics), `collections` (sObject Collections),
//! `query` (SOQL).

mod collections;
mod endpoints;
mod query;
mod sobjects;

pub use endpoints::{error, not_found};

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::Method;
use axum::routing::{any, post};
use serde_json::{Map, Value, json};

use super::server;

/// The External Client App's consumer key the fake accepts.
pub const CLIENT_ID: &str = "3MVG9fake.client.id";
/// Its consumer secret.
pub const CLIENT_SECRET: &str = "sf-client-secret-7c6b5a";
/// The external id field configured on Event.
pub const EXTERNAL_ID_FIELD: &str = "Calsync_Event_Id__c";

/// One record of the org.
#[derive(Debug, Clone)]
pub struct SfRecord {
    pub id: String,
    /// `Event`, `Contact` or `Lead`.
    pub object: &'static str,
    pub fields: Map<String, Value>,
    /// In the Recycle Bin.
    pub deleted: bool,
}

impl SfRecord {
    /// A field as text (`""` when absent or not text).
    pub fn text(&self, field: &str) -> &str {
        self.fields.get(field).and_then(Value::as_str).unwrap_or("")
    }
}

/// The org's state.
pub struct SfState {
    pub records: Vec<SfRecord>,
    /// Issued access tokens → still valid.
    tokens: HashMap<String, bool>,
    pub token_requests: usize,
    /// Statuses for the next token requests.
    token_failures: VecDeque<u16>,
    /// API requests: method and path with query (token requests are not listed).
    pub requests: Vec<(Method, String)>,
    pub shared_activities: bool,
    pub refuse_new_contacts: bool,
    /// Tokens are issued already revoked (a run-as user without API access).
    pub sessions_revoked: bool,
    /// The next request that creates an Event (alone or in a collection) is carried out but
    /// answered 504 (its answer is lost).
    pub lose_next_create: bool,
    /// Records (or ids) of each collections request, in order.
    pub collection_sizes: Vec<usize>,
    /// External ids whose Event a validation rule refuses.
    pub rejected: Vec<String>,
    pub api_used: i64,
    pub api_limit: i64,
    /// Records per query page.
    pub page_size: usize,
    /// Query cursors → the records still to return.
    cursors: HashMap<String, Vec<Value>>,
    pub base_url: String,
    next_id: u64,
}

impl SfState {
    /// A new id with the object's key prefix (`00U` Event, `003` Contact, `00Q` Lead).
    fn new_id(&mut self, object: &str) -> String {
        self.next_id += 1;
        let prefix = match object {
            "Event" => "00U",
            "Contact" => "003",
            "User" => "005",
            _ => "00Q",
        };
        format!("{prefix}{:012}AAA", self.next_id)
    }

    fn insert(&mut self, object: &'static str, fields: Map<String, Value>) -> String {
        let id = self.new_id(object);
        self.records.push(SfRecord {
            id: id.clone(),
            object,
            fields,
            deleted: false,
        });
        id
    }

    fn event_count(&self) -> usize {
        self.records.iter().filter(|r| r.object == "Event").count()
    }

    fn live(&self, id: &str) -> Option<&SfRecord> {
        self.records.iter().find(|r| r.id == id && !r.deleted)
    }
}

/// Handle to a running fake org.
#[derive(Clone)]
pub struct FakeSalesforce {
    pub address: SocketAddr,
    pub state: Arc<Mutex<SfState>>,
}

impl FakeSalesforce {
    /// Starts the fake on a loopback port: Shared Activities on, a 15,000-call allocation.
    pub async fn start() -> FakeSalesforce {
        let state = Arc::new(Mutex::new(SfState {
            records: Vec::new(),
            tokens: HashMap::new(),
            token_requests: 0,
            token_failures: VecDeque::new(),
            requests: Vec::new(),
            shared_activities: true,
            refuse_new_contacts: false,
            sessions_revoked: false,
            lose_next_create: false,
            collection_sizes: Vec::new(),
            rejected: Vec::new(),
            api_used: 0,
            api_limit: 15_000,
            page_size: 2000,
            cursors: HashMap::new(),
            base_url: String::new(),
            next_id: 0,
        }));
        let router = Router::new()
            .route("/services/oauth2/token", post(endpoints::token))
            .route("/services/data/{*rest}", any(endpoints::api))
            .with_state(state.clone());
        let address = server::spawn(router).await;
        state.lock().unwrap().base_url = format!("http://{address}");
        FakeSalesforce { address, state }
    }

    /// The instance URL (My Domain) to configure.
    pub fn instance_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The calsync environment that points `[crm]` at this org.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("CALSYNC__CRM__KIND".into(), "salesforce".into()),
            ("CALSYNC__CRM__INSTANCE_URL".into(), self.instance_url()),
            ("CALSYNC__CRM__CLIENT_ID".into(), CLIENT_ID.into()),
            ("CRM_API_KEY".into(), CLIENT_SECRET.into()),
        ]
    }

    fn with<T>(&self, f: impl FnOnce(&mut SfState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Adds a Contact.
    pub fn add_contact(&self, email: &str, last_name: &str) -> String {
        let fields = json!({"Email": email, "LastName": last_name});
        self.with(|s| s.insert("Contact", fields.as_object().unwrap().clone()))
    }

    /// Adds a Lead (`converted`: already turned into a contact).
    pub fn add_lead(&self, email: &str, converted: bool) -> String {
        let fields = json!({"Email": email, "LastName": "Lead", "IsConverted": converted});
        self.with(|s| s.insert("Lead", fields.as_object().unwrap().clone()))
    }

    /// Adds a User (who can own Events); `active`: not deactivated.
    pub fn add_user(&self, email: &str, active: bool) -> String {
        let fields = json!({"Email": email, "LastName": "User", "IsActive": active});
        self.with(|s| s.insert("User", fields.as_object().unwrap().clone()))
    }

    /// Plants an Event holding `external_id` (e.g. to make a duplicate).
    pub fn plant_event(&self, external_id: &str, subject: &str) -> String {
        let fields = json!({EXTERNAL_ID_FIELD: external_id, "Subject": subject});
        self.with(|s| s.insert("Event", fields.as_object().unwrap().clone()))
    }

    /// Moves any record to the Recycle Bin (as a merge does with the losing contact).
    pub fn delete_record(&self, id: &str) {
        self.with(|s| {
            let found = s.records.iter_mut().filter(|r| r.id == id);
            found.for_each(|record| record.deleted = true);
        });
    }

    /// Events not in the Recycle Bin.
    pub fn live_events(&self) -> Vec<SfRecord> {
        self.with(|s| {
            let live = s
                .records
                .iter()
                .filter(|r| r.object == "Event" && !r.deleted);
            live.cloned().collect()
        })
    }

    /// Every Event ever made for an external id, deleted or not.
    pub fn events_for(&self, external_id: &str) -> Vec<SfRecord> {
        self.with(|s| {
            let all = s.records.iter().filter(|r| r.object == "Event");
            all.filter(|r| r.text(EXTERNAL_ID_FIELD) == external_id)
                .cloned()
                .collect()
        })
    }

    /// Contacts, in creation order.
    pub fn contacts(&self) -> Vec<SfRecord> {
        self.with(|s| {
            let contacts = s.records.iter().filter(|r| r.object == "Contact");
            contacts.cloned().collect()
        })
    }

    /// API requests whose path contains `fragment`, with this method.
    pub fn count(&self, method: &str, fragment: &str) -> usize {
        self.with(|s| {
            let requests = s.requests.iter();
            requests
                .filter(|(m, path)| m.as_str() == method && path.contains(fragment))
                .count()
        })
    }

    /// API requests so far (method, path and query).
    pub fn requests(&self) -> Vec<(Method, String)> {
        self.with(|s| s.requests.clone())
    }

    /// Token requests so far.
    pub fn token_requests(&self) -> usize {
        self.with(|s| s.token_requests)
    }

    /// Ends every session: the next API call with an issued token gets 401.
    pub fn expire_tokens(&self) {
        self.with(|s| s.tokens.values_mut().for_each(|valid| *valid = false));
    }

    /// The next token requests answer these statuses.
    pub fn fail_token_requests(&self, statuses: impl IntoIterator<Item = u16>) {
        self.with(|s| s.token_failures.extend(statuses));
    }

    /// Turns Shared Activities (the `EventWhoIds` field) on or off.
    pub fn set_shared_activities(&self, on: bool) {
        self.with(|s| s.shared_activities = on);
    }

    /// Every session is rejected, even a fresh one.
    pub fn revoke_sessions(&self) {
        self.with(|s| {
            s.sessions_revoked = true;
            s.tokens.values_mut().for_each(|valid| *valid = false);
        });
    }

    /// Sessions are accepted again (after [`FakeSalesforce::revoke_sessions`]).
    pub fn restore_sessions(&self) {
        self.with(|s| s.sessions_revoked = false);
    }

    /// A validation rule refuses the Event of `external_id` (400
    /// `FIELD_CUSTOM_VALIDATION_EXCEPTION`, alone or as one item of a collection).
    pub fn reject_event(&self, external_id: &str) {
        self.with(|s| s.rejected.push(external_id.to_owned()));
    }

    /// Records (or ids) of each collections request so far.
    pub fn collection_sizes(&self) -> Vec<usize> {
        self.with(|s| s.collection_sizes.clone())
    }

    /// The next request creating an Event (alone or in a collection) is carried out but
    /// answered 504, as if the answer were lost.
    pub fn lose_next_create(&self) {
        self.with(|s| s.lose_next_create = true);
    }

    /// Makes Contact creation fail as a duplicate rule would.
    pub fn refuse_new_contacts(&self) {
        self.with(|s| s.refuse_new_contacts = true);
    }

    /// Uses up the 24-hour allocation: API calls get 403 `REQUEST_LIMIT_EXCEEDED`.
    pub fn exhaust_api_limit(&self) {
        self.with(|s| s.api_used = s.api_limit);
    }

    /// Frees the allocation again (calls aged out of the 24-hour window).
    pub fn restore_api_limit(&self) {
        self.with(|s| s.api_used = 0);
    }

    /// Records per query page (to exercise `nextRecordsUrl`).
    pub fn set_page_size(&self, size: usize) {
        self.with(|s| s.page_size = size);
    }
}
