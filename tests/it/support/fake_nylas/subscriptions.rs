//! The webhook endpoints of the fake Nylas: `GET|POST /v3/webhooks`,
//! `POST /v3/webhooks/rotate-secret/{id}` and `DELETE /v3/webhooks/{id}`, faithful to nylas.md:
//! create verifies the URL with a challenge GET first (and fails when the echo is wrong), the
//! secret is returned only by create and rotate-secret, and rotation replaces the secret at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{NylasState, error, gate};

/// A subscription held by the fake.
#[derive(Debug, Clone)]
pub struct FakeSubscription {
    pub id: String,
    pub url: String,
    pub status: String,
    pub triggers: Vec<String>,
    pub description: Option<String>,
    pub emails: Vec<String>,
    pub secret: String,
}

impl FakeSubscription {
    /// The listed form (no secret, like the real list).
    fn listed(&self) -> Value {
        json!({
            "id": self.id,
            "description": self.description,
            "trigger_types": self.triggers,
            "webhook_url": self.url,
            "status": self.status,
            "notification_email_addresses": self.emails,
            "status_updated_at": 1_782_000_000,
            "created_at": 1_781_000_000,
            "updated_at": 1_782_000_000,
        })
    }

    /// The form create and rotate-secret answer: with the secret.
    fn with_secret(&self) -> Value {
        let mut value = self.listed();
        value["webhook_secret"] = json!(self.secret);
        value
    }
}

/// A fresh secret, unique per call.
pub fn new_secret() -> String {
    format!("whsec_fake_{}", uuid::Uuid::new_v4().simple())
}

type Shared = Arc<Mutex<NylasState>>;

/// `GET /v3/webhooks`.
pub async fn list(State(state): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let mut state = state.lock().unwrap();
    if let Some(response) = gate(&mut state, &uri, &headers) {
        return response;
    }
    let data: Vec<Value> = state
        .webhooks
        .iter()
        .map(FakeSubscription::listed)
        .collect();
    Json(json!({"request_id": "req-fake", "data": data})).into_response()
}

/// `POST /v3/webhooks`: challenge the URL, then create.
pub async fn create(
    State(state): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    {
        let mut state = state.lock().unwrap();
        if let Some(response) = gate(&mut state, &uri, &headers) {
            return response;
        }
        state.created_bodies.push(body.clone());
    }
    let Some(url) = body["webhook_url"].as_str().map(str::to_string) else {
        return error(400, "webhook_url is required");
    };
    let triggers: Vec<String> = body["trigger_types"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if triggers.is_empty() {
        return error(400, "trigger_types is required");
    }
    if !answers_challenge(&url).await {
        return error(400, "webhook_url did not answer the challenge");
    }
    let mut state = state.lock().unwrap();
    state.next_subscription += 1;
    let webhook = FakeSubscription {
        id: format!("wh-{}", state.next_subscription),
        url,
        status: "active".to_string(),
        triggers,
        description: body["description"].as_str().map(str::to_string),
        emails: body["notification_email_addresses"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        secret: new_secret(),
    };
    let answer = webhook.with_secret();
    state.webhooks.push(webhook);
    Json(json!({"request_id": "req-fake", "data": answer})).into_response()
}

/// Whether `url` echoes a challenge as Nylas requires (200, the value exactly, within 10 s).
async fn answers_challenge(url: &str) -> bool {
    let value = format!("challenge-{}", uuid::Uuid::new_v4().simple());
    let Ok(response) = reqwest::Client::new()
        .get(url)
        .query(&[("challenge", &value)])
        .timeout(Duration::from_secs(10))
        .send()
        .await
    else {
        return false;
    };
    response.status().is_success() && response.text().await.is_ok_and(|body| body == value)
}

/// `POST /v3/webhooks/rotate-secret/{id}`.
pub async fn rotate_secret(
    State(state): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().unwrap();
    if let Some(response) = gate(&mut state, &uri, &headers) {
        return response;
    }
    match state.webhooks.iter_mut().find(|webhook| webhook.id == id) {
        Some(webhook) => {
            webhook.secret = new_secret();
            Json(json!({"request_id": "req-fake", "data": webhook.with_secret()})).into_response()
        }
        None => error(404, "webhook not found"),
    }
}

/// `DELETE /v3/webhooks/{id}`.
pub async fn delete(
    State(state): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().unwrap();
    if let Some(response) = gate(&mut state, &uri, &headers) {
        return response;
    }
    let before = state.webhooks.len();
    state.webhooks.retain(|webhook| webhook.id != id);
    if state.webhooks.len() == before {
        return error(404, "webhook not found");
    }
    Json(json!({"request_id": "req-fake", "data": {"status": "success"}})).into_response()
}
