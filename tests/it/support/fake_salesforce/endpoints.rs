//! The fake org's endpoints: the token endpoint (client credentials), and every
//! `/services/data/...` call — session check, allocation, routing to [`super::sobjects`],
//! [`super::collections`] and [`super::query`], `Sforce-Limit-Info`, and a lost answer when asked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{CLIENT_ID, CLIENT_SECRET, SfState, collections, query, sobjects};

/// The token endpoint.
pub(super) async fn token(
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
pub(super) async fn api(
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
        let events_before = state.event_count();
        let routed = route(&mut state, &method, &uri, &body);
        // A single upsert or a collection that created an Event.
        let event_created = method == Method::PATCH && state.event_count() > events_before;
        match event_created && std::mem::take(&mut state.lose_next_create) {
            true => error(504, "SERVER_UNAVAILABLE", "Gateway timeout", &[]),
            false => routed,
        }
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
        ("PATCH", ["composite", "sobjects", "Event", field]) => {
            collections::upsert(state, version, field, body)
        }
        ("DELETE", ["composite", "sobjects"]) => collections::delete(state, version, &query),
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

pub fn not_found() -> Response {
    error(
        404,
        "NOT_FOUND",
        "The requested resource does not exist",
        &[],
    )
}
