//! The demo CRM: a loopback implementation of the generic REST contract (`crms.md`, "Generic
//! REST CRM") that calsync's real `rest` adapter writes to, and that remembers every request so
//! the demo can show what a CRM receives.
//!
//! The contract, at `/api/meetings`, with bearer authentication:
//! - `POST` with a record → 201 `{"id": "crm-N"}` (a new record each time: like most CRMs it
//!   does not prevent duplicates);
//! - `GET ?external_event_id=X` → 200 with the record, or 404; `GET` without a query lists the
//!   live records;
//! - `PUT ?external_event_id=X` with a record → 200 `{"id"}`, or 404 when none is live;
//! - `DELETE ?external_event_id=X` → 204, marking the record deleted (a soft delete: it stays,
//!   flagged), or 404 when none is live.
//!
//! Invariant: the request log and the records change together, under one lock, so what the
//! demo reports is what was answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Serialize;
use serde_json::{Value, json};

use super::loopback::{self, Served, lock};

/// The API key the daemon is configured with and the CRM requires.
pub const API_KEY: &str = "demo-crm-api-key";

/// The meetings collection path (calsync's default `crm.meetings_path`).
pub const MEETINGS_PATH: &str = "/api/meetings";

/// One meeting record as the CRM holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrmRecord {
    /// The CRM's own id (`crm-1`, `crm-2`, …).
    pub id: String,
    /// The body calsync sent (the generic REST record).
    pub record: Value,
    /// Soft-deleted: kept, flagged.
    pub deleted: bool,
}

impl CrmRecord {
    /// A text field of the record calsync sent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.record[name].as_str()
    }
}

/// One request the CRM answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmRequest {
    /// The HTTP method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The status the demo CRM answered.
    pub status: u16,
    /// The record it created, changed or deleted.
    pub record_id: Option<String>,
}

#[derive(Default)]
struct Crm {
    records: Vec<CrmRecord>,
    requests: Vec<CrmRequest>,
}

type Shared = Arc<Mutex<Crm>>;

/// The running demo CRM.
pub struct DemoCrm {
    state: Shared,
    served: Served,
}

impl DemoCrm {
    /// Starts it on a loopback port.
    pub async fn start() -> std::io::Result<DemoCrm> {
        let state = Shared::default();
        let router = Router::new()
            .route(MEETINGS_PATH, any(meetings))
            .with_state(state.clone());
        let served = loopback::serve(router).await?;
        Ok(DemoCrm { state, served })
    }

    /// The `crm.base_url` to configure.
    pub fn base_url(&self) -> String {
        self.served.base_url()
    }

    /// Every record, in creation order.
    pub fn records(&self) -> Vec<CrmRecord> {
        lock(&self.state).records.clone()
    }

    /// How many requests were answered so far.
    pub fn request_count(&self) -> usize {
        lock(&self.state).requests.len()
    }

    /// The requests answered since the first `from`.
    pub fn requests_since(&self, from: usize) -> Vec<CrmRequest> {
        let crm = lock(&self.state);
        crm.requests.get(from..).unwrap_or_default().to_vec()
    }
}

async fn meetings(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Option<Json<Value>>,
) -> Response {
    let mut crm = lock(&state);
    let authorized = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == format!("Bearer {API_KEY}"));
    let (status, record_id, answer) = if authorized {
        let external = query.get("external_event_id").map(String::as_str);
        crm.answer(&method, external, body.map(|Json(body)| body))
    } else {
        (
            StatusCode::UNAUTHORIZED,
            None,
            json!({"error": "unauthorized"}),
        )
    };
    crm.requests.push(CrmRequest {
        method: method.to_string(),
        target: uri.path_and_query().map_or_else(
            || uri.path().to_owned(),
            |target| target.as_str().to_owned(),
        ),
        status: status.as_u16(),
        record_id,
    });
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    (status, Json(answer)).into_response()
}

impl Crm {
    /// The live record for an external id.
    fn live(&mut self, external: &str) -> Option<&mut CrmRecord> {
        self.records.iter_mut().rev().find(|record| {
            !record.deleted && record.record["external_event_id"].as_str() == Some(external)
        })
    }

    /// Applies the contract: the status, the record touched, and the body to answer.
    fn answer(
        &mut self,
        method: &Method,
        external: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Option<String>, Value) {
        let not_found = || {
            (
                StatusCode::NOT_FOUND,
                None,
                json!({"error": "no such meeting"}),
            )
        };
        match (method.as_str(), external, body) {
            ("POST", None, Some(record)) => {
                let id = format!("crm-{}", self.records.len() + 1);
                self.records.push(CrmRecord {
                    id: id.clone(),
                    record,
                    deleted: false,
                });
                (StatusCode::CREATED, Some(id.clone()), json!({"id": id}))
            }
            ("GET", None, _) => {
                let live = self.records.iter().filter(|record| !record.deleted);
                let list = live.map(|record| record.record.clone()).collect();
                (StatusCode::OK, None, Value::Array(list))
            }
            ("GET", Some(external), _) => match self.live(external) {
                Some(found) => (StatusCode::OK, Some(found.id.clone()), found.record.clone()),
                None => not_found(),
            },
            ("PUT", Some(external), Some(record)) => match self.live(external) {
                Some(found) => {
                    found.record = record;
                    let id = found.id.clone();
                    (StatusCode::OK, Some(id.clone()), json!({"id": id}))
                }
                None => not_found(),
            },
            ("DELETE", Some(external), _) => match self.live(external) {
                Some(found) => {
                    found.deleted = true;
                    (StatusCode::NO_CONTENT, Some(found.id.clone()), Value::Null)
                }
                None => not_found(),
            },
            _ => (
                StatusCode::BAD_REQUEST,
                None,
                json!({"error": "not a request of the meetings contract"}),
            ),
        }
    }
}
