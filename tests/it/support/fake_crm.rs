//! A fake generic-REST CRM (the contract of crms.md): records keyed by its own id, found by
//! `external_event_id`, soft-deleted by DELETE. Like real CRMs it does NOT prevent duplicates:
//! two POSTs for one event make two records, so a test can see a duplicate. It can be told to
//! fail (a status for every request, or scripted answers for the next requests).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use super::server;

/// The API key the fake accepts.
pub const CRM_KEY: &str = "crm-test-key-9f8e7d";

/// One record held by the fake.
#[derive(Debug, Clone)]
pub struct CrmRecord {
    pub id: String,
    pub external_event_id: String,
    pub body: Value,
    pub deleted: bool,
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub retry_after: Option<String>,
}

#[derive(Default)]
struct CrmState {
    records: Vec<CrmRecord>,
    requests: Vec<(Method, String)>,
    outage: Option<u16>,
    scripted: VecDeque<Scripted>,
    /// Per external id: answer this status to writes for that event only.
    poisoned: HashMap<String, u16>,
    next_id: u64,
    /// How long each request takes before it is answered (a slow CRM keeps jobs in flight).
    latency: Option<std::time::Duration>,
}

/// Handle to a running fake CRM.
#[derive(Clone)]
pub struct FakeCrm {
    pub address: SocketAddr,
    state: Arc<Mutex<CrmState>>,
}

impl FakeCrm {
    /// Starts the fake on a loopback port.
    pub async fn start() -> FakeCrm {
        let state = Arc::new(Mutex::new(CrmState::default()));
        let router = Router::new()
            .route("/api/meetings", any(meetings))
            .with_state(state.clone());
        let address = server::spawn(router).await;
        FakeCrm { address, state }
    }

    /// The base URL to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Records not soft-deleted.
    pub fn live_records(&self) -> Vec<CrmRecord> {
        let state = self.state.lock().unwrap();
        state
            .records
            .iter()
            .filter(|r| !r.deleted)
            .cloned()
            .collect()
    }

    /// Every record ever created for an event (duplicates show up here).
    pub fn records_for(&self, external_event_id: &str) -> Vec<CrmRecord> {
        let state = self.state.lock().unwrap();
        state
            .records
            .iter()
            .filter(|r| r.external_event_id == external_event_id)
            .cloned()
            .collect()
    }

    /// All records, deleted or not.
    pub fn all_records(&self) -> Vec<CrmRecord> {
        self.state.lock().unwrap().records.clone()
    }

    /// How many requests with this method were answered (including failures).
    pub fn count(&self, method: &str) -> usize {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|(m, _)| m.as_str() == method)
            .count()
    }

    /// Every request (method, path and query) so far.
    pub fn requests(&self) -> Vec<(Method, String)> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Forgets the request log (records stay).
    pub fn reset_counts(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    /// Answers every request with `status` until [`FakeCrm::recover`].
    pub fn go_down(&self, status: u16) {
        self.state.lock().unwrap().outage = Some(status);
    }

    /// Ends an outage.
    pub fn recover(&self) {
        self.state.lock().unwrap().outage = None;
    }

    /// The next requests get these answers, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.state.lock().unwrap().scripted.extend(answers);
    }

    /// Writes for this event answer `status` (e.g. 422) until [`FakeCrm::cure`].
    pub fn poison(&self, external_event_id: &str, status: u16) {
        let mut state = self.state.lock().unwrap();
        state.poisoned.insert(external_event_id.to_string(), status);
    }

    /// Makes every later request take `latency` before it is handled.
    pub fn slow_down(&self, latency: std::time::Duration) {
        self.state.lock().unwrap().latency = Some(latency);
    }

    /// Stops poisoning an event.
    pub fn cure(&self, external_event_id: &str) {
        self.state
            .lock()
            .unwrap()
            .poisoned
            .remove(external_event_id);
    }
}

async fn meetings(
    State(state): State<Arc<Mutex<CrmState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Option<Json<Value>>,
) -> Response {
    let latency = state.lock().unwrap().latency;
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    let mut state = state.lock().unwrap();
    let target = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    state.requests.push((method.clone(), target));
    if let Some(status) = state.outage {
        return status_only(status, None);
    }
    if let Some(answer) = state.scripted.pop_front() {
        return status_only(answer.status, answer.retry_after);
    }
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {CRM_KEY}"));
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "unauthorized"})),
        )
            .into_response();
    }
    let external = query.get("external_event_id").cloned().or_else(|| {
        body.as_ref()
            .and_then(|b| b.get("external_event_id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    if let Some(status) = external.as_ref().and_then(|e| state.poisoned.get(e)) {
        let status = *status;
        return (
            StatusCode::from_u16(status).unwrap(),
            Json(json!({"error": "validation failed: meeting_date out of range"})),
        )
            .into_response();
    }
    let live = |state: &CrmState, external: &str| {
        state
            .records
            .iter()
            .rposition(|r| r.external_event_id == external && !r.deleted)
    };
    match method {
        Method::POST => {
            let Some(Json(body)) = body else {
                return status_only(400, None);
            };
            let Some(external) = external else {
                return status_only(422, None);
            };
            state.next_id += 1;
            let id = format!("crm-{}", state.next_id);
            state.records.push(CrmRecord {
                id: id.clone(),
                external_event_id: external,
                body,
                deleted: false,
            });
            (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
        }
        Method::GET => match external.and_then(|e| live(&state, &e)) {
            Some(index) => {
                let record = &state.records[index];
                let mut body = record.body.clone();
                body["id"] = json!(record.id);
                (StatusCode::OK, Json(body)).into_response()
            }
            None => status_only(404, None),
        },
        Method::PUT => {
            let Some(Json(body)) = body else {
                return status_only(400, None);
            };
            match external.and_then(|e| live(&state, &e)) {
                Some(index) => {
                    state.records[index].body = body;
                    let id = state.records[index].id.clone();
                    (StatusCode::OK, Json(json!({"id": id}))).into_response()
                }
                None => status_only(404, None),
            }
        }
        Method::DELETE => match external.and_then(|e| live(&state, &e)) {
            Some(index) => {
                state.records[index].deleted = true;
                StatusCode::NO_CONTENT.into_response()
            }
            None => status_only(404, None),
        },
        _ => status_only(405, None),
    }
}

fn status_only(status: u16, retry_after: Option<String>) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"error": format!("status {status}")})),
    )
        .into_response();
    if let Some(value) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", value.parse().unwrap());
    }
    response
}
