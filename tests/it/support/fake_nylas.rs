//! A fake Nylas v3 API: events held per grant, read with `GET /v3/grants/{grant}/events/{id}`
//! (which, like the real one, requires `calendar_id` and answers 404 for an event that is not
//! in that calendar or no longer exists), one grant (`GET /v3/grants/{id}`, from the listed ones),
//! the lists backfill and reconciliation walk (grants,
//! calendars, events: see [`lists`]) and webhook subscriptions ([`webhooks`]). It checks the
//! bearer key, logs every request, and can be told to fail: the next requests (any, or those
//! whose path contains a text), every request (an outage), every request with a 401 for a bad
//! API key, or every request of one grant with the 401 Nylas gives an expired grant
//! (`provider_error: invalid_grant`).

mod lists;

pub use lists::PageFailure;

pub mod subscriptions;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};

use super::fake_crm::Scripted;
use super::server;

/// The API key the fake accepts.
pub const NYLAS_KEY: &str = "nyk_test_5b0c1d2e3f";

#[derive(Default)]
pub struct NylasState {
    /// (grant id, event id) → event JSON (its `calendar_id` says which calendar holds it).
    pub events: HashMap<(String, String), Value>,
    /// Every request's path and query, in order.
    pub requests: Vec<String>,
    pub scripted: VecDeque<Scripted>,
    /// Webhook subscriptions, in creation order.
    pub webhooks: Vec<subscriptions::FakeSubscription>,
    /// Bodies of every `POST /v3/webhooks` received.
    pub created_bodies: Vec<Value>,
    pub next_subscription: u64,
    /// Answer every request with this status.
    pub outage: Option<u16>,
    /// Answer every request 401 as for an invalid API key.
    pub key_rejected: bool,
    /// Grants whose requests answer 401 as for an expired grant.
    pub expired_grants: HashSet<String>,
    /// Scripted answers for the next requests whose path contains the text.
    pub scripted_for: VecDeque<(String, Scripted)>,
    /// The grants `GET /v3/grants` lists, in order.
    pub grants: Vec<Value>,
    /// Per grant: its calendars, in order.
    pub calendars: HashMap<String, Vec<Value>>,
    /// The most events one page holds (Nylas: `limit`); smaller keeps tests fast.
    pub event_page_size: Option<usize>,
    /// The most calendars one page holds.
    pub calendar_page_size: Option<usize>,
    /// Event pages that fail until removed.
    pub failing_pages: Vec<PageFailure>,
    /// Part of every page token: bumping it makes earlier tokens invalid (400).
    pub cursor_generation: u32,
    /// Per event id: its reads wait until [`FakeNylas::release_read`] (a closed gate).
    pub held_reads: HashMap<String, Arc<tokio::sync::Semaphore>>,
}

/// Handle to a running fake Nylas.
#[derive(Clone)]
pub struct FakeNylas {
    pub address: SocketAddr,
    pub state: Arc<Mutex<NylasState>>,
}

impl FakeNylas {
    /// Starts the fake on a loopback port.
    pub async fn start() -> FakeNylas {
        let state = Arc::new(Mutex::new(NylasState::default()));
        let router = Router::new()
            .route("/v3/grants", get(lists::list_grants))
            .route("/v3/grants/{grant}", get(lists::get_grant))
            .route("/v3/grants/{grant}/calendars", get(lists::list_calendars))
            .route("/v3/grants/{grant}/events", get(lists::list_events))
            .route("/v3/grants/{grant}/events/{event}", get(get_event))
            .route(
                "/v3/webhooks",
                get(subscriptions::list).post(subscriptions::create),
            )
            .route(
                "/v3/webhooks/rotate-secret/{id}",
                post(subscriptions::rotate_secret),
            )
            .route("/v3/webhooks/{id}", delete(subscriptions::delete))
            .with_state(state.clone());
        let address = server::spawn(router).await;
        FakeNylas { address, state }
    }

    /// The API URI to configure.
    pub fn api_uri(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Creates or replaces an event (keyed by its `grant_id` and `id`).
    pub fn put_event(&self, event: Value) {
        let grant = event["grant_id"].as_str().unwrap().to_string();
        let id = event["id"].as_str().unwrap().to_string();
        self.state.lock().unwrap().events.insert((grant, id), event);
    }

    /// Hard-deletes an event: later reads answer 404.
    /// Holds every read of event `id` unanswered until [`FakeNylas::release_read`].
    pub fn hold_read(&self, id: &str) {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        self.state
            .lock()
            .unwrap()
            .held_reads
            .insert(id.to_owned(), gate);
    }

    /// Answers the held reads of event `id`, and every later one at once.
    pub fn release_read(&self, id: &str) {
        if let Some(gate) = self.state.lock().unwrap().held_reads.get(id) {
            gate.add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
        }
    }

    pub fn remove_event(&self, grant: &str, id: &str) {
        let key = (grant.to_string(), id.to_string());
        self.state.lock().unwrap().events.remove(&key);
    }

    /// How many event reads were made.
    pub fn event_reads(&self) -> usize {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|r| r.contains("/events/"))
            .count()
    }

    /// Every request so far (path and query).
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Adds a webhook subscription (as if created earlier); returns its secret.
    pub fn add_subscription(&self, id: &str, url: &str, status: &str, triggers: &[&str]) -> String {
        let secret = subscriptions::new_secret();
        self.state
            .lock()
            .unwrap()
            .webhooks
            .push(subscriptions::FakeSubscription {
                id: id.to_string(),
                url: url.to_string(),
                status: status.to_string(),
                triggers: triggers.iter().map(|t| t.to_string()).collect(),
                description: None,
                emails: Vec::new(),
                secret: secret.clone(),
            });
        secret
    }

    /// Sets a webhook's status (as Nylas does when deliveries fail).
    pub fn set_subscription_status(&self, id: &str, status: &str) {
        let mut state = self.state.lock().unwrap();
        let webhook = state.webhooks.iter_mut().find(|w| w.id == id).unwrap();
        webhook.status = status.to_string();
    }

    /// The subscriptions held now.
    pub fn webhooks(&self) -> Vec<subscriptions::FakeSubscription> {
        self.state.lock().unwrap().webhooks.clone()
    }

    /// The next requests get these answers, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.state.lock().unwrap().scripted.extend(answers);
    }

    /// Answers every request with `status` until [`FakeNylas::recover`].
    pub fn go_down(&self, status: u16) {
        self.state.lock().unwrap().outage = Some(status);
    }

    /// Ends an outage.
    pub fn recover(&self) {
        self.state.lock().unwrap().outage = None;
    }

    /// Rejects (true) or accepts again (false) calsync's API key.
    pub fn reject_key(&self, rejected: bool) {
        self.state.lock().unwrap().key_rejected = rejected;
    }

    /// Expires a grant: its requests answer 401 until [`FakeNylas::renew_grant`].
    pub fn expire_grant(&self, grant: &str) {
        self.state
            .lock()
            .unwrap()
            .expired_grants
            .insert(grant.to_string());
    }

    /// Re-authenticates an expired grant.
    pub fn renew_grant(&self, grant: &str) {
        self.state.lock().unwrap().expired_grants.remove(grant);
    }

    /// The next requests whose path contains `path_contains` get these answers, in order.
    pub fn script_for(&self, path_contains: &str, answers: impl IntoIterator<Item = Scripted>) {
        let mut state = self.state.lock().unwrap();
        for answer in answers {
            state
                .scripted_for
                .push_back((path_contains.to_string(), answer));
        }
    }
}

/// Common checks: log, scripted failures, bearer key. `Some(response)` ends the request.
pub fn gate(state: &mut NylasState, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    state.requests.push(
        uri.path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
    );
    let path = uri.path().to_string();
    let targeted = state
        .scripted_for
        .iter()
        .position(|(text, _)| path.contains(text.as_str()));
    let answer = match targeted {
        Some(index) => state.scripted_for.remove(index).map(|(_, answer)| answer),
        None => state.scripted.pop_front(),
    };
    if let Some(answer) = answer {
        let mut response = error(answer.status, "scripted failure");
        if let Some(value) = answer.retry_after {
            response
                .headers_mut()
                .insert("retry-after", value.parse().unwrap());
        }
        return Some(response);
    }
    if let Some(status) = state.outage {
        return Some(error(status, "outage"));
    }
    let path = uri.path();
    let grant_expired = state
        .expired_grants
        .iter()
        .any(|grant| path.starts_with(&format!("/v3/grants/{grant}/")));
    if grant_expired {
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({
                    "request_id": "req-fake",
                    "error": {
                        "type": "unauthorized",
                        "message": "Unauthorized",
                        "provider_error": {"error": "invalid_grant"}
                    }
                })),
            )
                .into_response(),
        );
    }
    let authorized = !state.key_rejected
        && headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {NYLAS_KEY}"));
    if !authorized {
        return Some(error(401, "Unauthorized"));
    }
    None
}

/// A Nylas error body.
pub fn error(status: u16, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({
            "request_id": "req-fake",
            "error": {"type": "api.error", "message": message}
        })),
    )
        .into_response()
}

async fn get_event(
    State(state): State<Arc<Mutex<NylasState>>>,
    Path((grant, event)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let held = state.lock().unwrap().held_reads.get(&event).cloned();
    if let Some(gate) = held {
        let _answered = gate.acquire().await;
    }
    let mut state = state.lock().unwrap();
    if let Some(response) = gate(&mut state, &uri, &headers) {
        return response;
    }
    let Some(calendar) = query.get("calendar_id") else {
        return error(400, "calendar_id is required");
    };
    match state.events.get(&(grant, event)) {
        Some(found) if calendar == "primary" || found["calendar_id"].as_str() == Some(calendar) => {
            Json(json!({"request_id": "req-fake", "data": found})).into_response()
        }
        _ => error(404, "event not found"),
    }
}
