//! A stateful fake Salesforce org that follows `crms.md` ("Salesforce") exactly:
//!
//! - `POST /services/oauth2/token` (form, `grant_type=client_credentials`, client id and
//!   secret) → `{access_token, instance_url, …}`; wrong credentials → 400 `invalid_client`.
//!   Tokens stay valid until [`FakeSalesforce::expire_tokens`]; an expired or unknown token gets
//!   401 `[{"errorCode":"INVALID_SESSION_ID", …}]`.
//! - Every API answer carries `Sforce-Limit-Info: api-usage=used/limit`; once `used` reaches
//!   `limit`, requests get 403 `REQUEST_LIMIT_EXCEEDED` (no 429, no `Retry-After`).
//! - Events upserted by external id (201/200, 204 before v46, 300 for duplicates), deleted to
//!   the Recycle Bin, read back by external id, described; Contacts and Leads queried by email
//!   with a strict SOQL parser (an unescaped quote is a `MALFORMED_QUERY`), Contacts created.
//! - `EventWhoIds` exists only with Shared Activities on; otherwise it is `INVALID_FIELD`.
//! - Errors are the JSON array `[{message, errorCode, fields}]`.
//!
//! Submodules: `sobjects` (Event and Contact semantics), `query` (SOQL).

mod query;
mod sobjects;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
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
            api_used: 0,
            api_limit: 15_000,
            page_size: 2000,
            cursors: HashMap::new(),
            base_url: String::new(),
            next_id: 0,
        }));
        let router = Router::new()
            .route("/services/oauth2/token", post(token))
            .route("/services/data/{*rest}", any(api))
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

/// The token endpoint.
async fn token(
    State(state): State<Arc<Mutex<SfState>>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().unwrap();
    state.token_requests += 1;
    if let Some(status) = state.token_failures.pop_front() {
        let body = json!({"error": "server_error", "error_description": "try again later"});
        return (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    }
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("grant_type") != Some("client_credentials") {
        let body = json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(CLIENT_SECRET) {
        let body =
            json!({"error": "invalid_client", "error_description": "invalid client credentials"});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let access = format!("00Dfake!AQ{}.token", state.token_requests);
    let valid = !state.sessions_revoked;
    state.tokens.insert(access.clone(), valid);
    let body = json!({
        "access_token": access,
        "instance_url": state.base_url,
        "id": format!("{}/id/00Dfake/005fake", state.base_url),
        "token_type": "Bearer",
        "issued_at": "1782000000000",
        "signature": "c2lnbmF0dXJl"
    });
    axum::Json(body).into_response()
}

/// Every `/services/data/...` call: session check, allocation, routing, `Sforce-Limit-Info`.
async fn api(
    State(state): State<Arc<Mutex<SfState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    let target = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    state.requests.push((method.clone(), target));
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let mut response = if token.is_none_or(|t| state.tokens.get(t) != Some(&true)) {
        error(401, "INVALID_SESSION_ID", "Session expired or invalid", &[])
    } else if state.api_used >= state.api_limit {
        error(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
            &[],
        )
    } else {
        state.api_used += 1;
        route(&mut state, &method, &uri, &body)
    };
    let usage = format!("api-usage={}/{}", state.api_used, state.api_limit);
    response
        .headers_mut()
        .insert("sforce-limit-info", usage.parse().unwrap());
    response
}

fn route(state: &mut SfState, method: &Method, uri: &Uri, body: &Bytes) -> Response {
    let segments: Vec<String> = uri
        .path()
        .split('/')
        .skip(3) // "", "services", "data"
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let Some((version, rest)) = segments.split_first() else {
        return not_found();
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    match (method.as_str(), rest.as_slice()) {
        ("GET", ["sobjects", "Event", "describe"]) => sobjects::describe(state),
        ("PATCH", ["sobjects", "Event", field, value]) => {
            sobjects::upsert(state, version, field, value, body)
        }
        ("GET", ["sobjects", "Event", field, value]) => {
            sobjects::read(state, version, field, value)
        }
        ("DELETE", ["sobjects", "Event", id]) => sobjects::delete(state, id),
        ("DELETE", ["sobjects", "Event", field, value]) => {
            sobjects::delete_by_external_id(state, version, field, value)
        }
        ("POST", ["sobjects", "Contact"]) => sobjects::create_contact(state, body),
        ("GET", ["query"]) => query::run(state, version, query.get("q").map(String::as_str)),
        ("GET", ["query", cursor]) => query::next_page(state, version, cursor),
        _ => not_found(),
    }
}

/// A Salesforce error: the JSON array with one entry.
pub fn error(status: u16, code: &str, message: &str, fields: &[&str]) -> Response {
    let body = json!([{"message": message, "errorCode": code, "fields": fields}]);
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn not_found() -> Response {
    error(
        404,
        "NOT_FOUND",
        "The requested resource does not exist",
        &[],
    )
}
