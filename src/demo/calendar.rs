//! The demo's sample calendar: a loopback stand-in for the Nylas API, holding the current state
//! of the sample events so that calsync's real Nylas client reads them as it reads Nylas.
//!
//! It answers what the daemon asks while the demo runs, in Nylas's shapes (`nylas.md`):
//! `GET /v3/grants/{grant}/events/{event}?calendar_id=` (404 once the event is deleted),
//! `GET /v3/webhooks` (one active webhook to the demo daemon, for the webhook monitor) and
//! `GET /v3/grants` (the demo grant). Every request needs the demo's API key, as Nylas needs
//! one.
//!
//! Invariant: the calendar changes only through [`SampleCalendar::apply`], with the
//! notification that tells of the change, before that notification is posted — as a real
//! calendar changes before Nylas notifies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::loopback::{self, Served, lock};
use crate::commands::subscriptions::TRIGGERS;

/// The API key the daemon is configured with and the calendar requires.
pub const API_KEY: &str = "demo-nylas-api-key";

#[derive(Default)]
struct Calendar {
    /// (grant id, event id) → the event as the Events API returns it.
    events: HashMap<(String, String), Value>,
    /// The webhook URL `GET /v3/webhooks` lists.
    webhook_url: String,
    grants: Vec<String>,
}

type Shared = Arc<Mutex<Calendar>>;

/// The running sample calendar.
pub struct SampleCalendar {
    state: Shared,
    served: Served,
}

impl SampleCalendar {
    /// Starts it on a loopback port.
    pub async fn start() -> std::io::Result<SampleCalendar> {
        let state = Shared::default();
        let router = Router::new()
            .route("/v3/grants", get(grants))
            .route("/v3/grants/{grant}/events/{event}", get(event))
            .route("/v3/webhooks", get(subscriptions))
            .with_state(state.clone());
        let served = loopback::serve(router).await?;
        Ok(SampleCalendar { state, served })
    }

    /// The `nylas.api_uri` to configure.
    pub fn api_uri(&self) -> String {
        self.served.base_url()
    }

    /// Names the URL the listed webhook delivers to (the demo daemon's webhook path).
    pub fn set_webhook_url(&self, url: &str) {
        lock(&self.state).webhook_url = url.to_owned();
    }

    /// Changes the calendar as `notification` reports: its event becomes current
    /// (`event.created|updated`) or is gone (`event.deleted`).
    pub fn apply(&self, notification: &Value) {
        let object = &notification["data"]["object"];
        let (Some(grant), Some(id)) = (object["grant_id"].as_str(), object["id"].as_str()) else {
            return;
        };
        let key = (grant.to_owned(), id.to_owned());
        let mut calendar = lock(&self.state);
        if !calendar.grants.iter().any(|known| known == grant) {
            calendar.grants.push(grant.to_owned());
        }
        match notification["type"].as_str() {
            Some("event.deleted") => {
                calendar.events.remove(&key);
            }
            _ => {
                calendar.events.insert(key, object.clone());
            }
        }
    }
}

/// A Nylas error answer.
fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"request_id": "demo", "error": {"type": kind, "message": message}});
    (status, Json(body)).into_response()
}

/// `None` when the request carries the demo's API key, else the 401 Nylas gives.
fn refused(headers: &HeaderMap) -> Option<Response> {
    let expected = format!("Bearer {API_KEY}");
    let authorized = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == expected);
    (!authorized).then(|| error(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"))
}

async fn event(
    State(state): State<Shared>,
    Path((grant, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = refused(&headers) {
        return refusal;
    }
    let Some(calendar_id) = query.get("calendar_id") else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "calendar_id is required",
        );
    };
    let calendar = lock(&state);
    match calendar.events.get(&(grant, id)) {
        Some(found)
            if calendar_id == "primary" || found["calendar_id"].as_str() == Some(calendar_id) =>
        {
            Json(json!({"request_id": "demo", "data": found})).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "not_found_error", "event not found"),
    }
}

async fn subscriptions(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refused(&headers) {
        return refusal;
    }
    let url = lock(&state).webhook_url.clone();
    let subscription = json!({
        "id": "demo-webhook",
        "description": "calsync demo",
        "status": "active",
        "webhook_url": url,
        "trigger_types": TRIGGERS,
    });
    Json(json!({"request_id": "demo", "data": [subscription]})).into_response()
}

async fn grants(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refused(&headers) {
        return refusal;
    }
    let grants: Vec<Value> = lock(&state)
        .grants
        .iter()
        .map(|id| json!({"id": id, "grant_status": "valid", "provider": "google"}))
        .collect();
    Json(json!({"request_id": "demo", "data": grants})).into_response()
}
