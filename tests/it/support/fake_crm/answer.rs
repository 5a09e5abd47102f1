//! How the fake CRM answers: holds, delays, outages and scripted answers first, then the
//! credential, poisoned events, and the generic REST contract itself.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{CRM_KEY, CrmRecord, CrmState};

/// Answers a request, then signals waiters.
pub(super) async fn meetings(
    State(state): State<Arc<Mutex<CrmState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Query<HashMap<String, String>>,
    body: Option<Json<Value>>,
) -> Response {
    let response = answer(state.clone(), method, uri, headers, query, body).await;
    let changed = state.lock().unwrap().changed.clone();
    changed.notify_waiters();
    response
}

async fn answer(
    state: Arc<Mutex<CrmState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Option<Json<Value>>,
) -> Response {
    let external = query.get("external_event_id").cloned().or_else(|| {
        body.as_ref()
            .and_then(|b| b.get("external_event_id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let (hold, delay) = {
        let mut state = state.lock().unwrap();
        let target = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        state.requests.push((method.clone(), target));
        state.times.push(tokio::time::Instant::now());
        let hold = external.as_ref().and_then(|e| state.holds.get(e).cloned());
        state.changed.notify_waiters();
        (hold, state.delay)
    };
    if let Some(hold) = hold {
        hold.arrivals.fetch_add(1, Ordering::SeqCst);
        hold.arrived.notify_waiters();
        // Closed on release: acquiring then fails at once.
        let _ = hold.released.acquire().await;
    }
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut state = state.lock().unwrap();
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
    if !authorized || state.key_revoked {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "unauthorized"})),
        )
            .into_response();
    }
    if let Some(status) = external.as_ref().and_then(|e| state.poisoned.get(e)) {
        let status = *status;
        return (
            StatusCode::from_u16(status).unwrap(),
            Json(json!({"error": "validation failed: meeting_date out of range"})),
        )
            .into_response();
    }
    if let Some(Json(body)) = &body
        && let Some(problem) = too_long(body)
    {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": problem})),
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
            if std::mem::take(&mut state.lose_next_create) {
                return status_only(504, None);
            }
            (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
        }
        // The collection itself (what `calsync check` probes): the live records.
        Method::GET if external.is_none() => {
            let records: Vec<Value> = state
                .records
                .iter()
                .filter(|r| !r.deleted)
                .map(|r| {
                    let mut body = r.body.clone();
                    body["id"] = json!(r.id);
                    body
                })
                .collect();
            (StatusCode::OK, Json(Value::Array(records))).into_response()
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

/// The generic contract's text limits (characters): a longer value is refused (422).
const LIMITS: &[(&str, usize)] = &[
    ("meeting_subject", 255),
    ("meeting_location", 255),
    ("notes", 32_000),
];

fn too_long(body: &Value) -> Option<String> {
    LIMITS.iter().find_map(|(field, max)| {
        let length = body[*field].as_str()?.chars().count();
        (length > *max).then(|| format!("{field} is longer than {max} characters ({length})"))
    })
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
