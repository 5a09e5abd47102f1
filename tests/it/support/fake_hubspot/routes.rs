//! The fake HubSpot's request handling: contract check, auth, throttling, then dispatch to the
//! endpoints ([`super::meetings`], [`super::people`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State as Shared;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use super::{HUBSPOT_TOKEN, State, Throttle, batch, meetings, people};
use crate::support::openapi::Contract;

/// An answer before it becomes an HTTP response.
pub(super) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(&'static str, String)>,
    /// Checked against the response schema (not for 429s, whose real body differs from the
    /// spec's error shape, nor for a simulated lost answer).
    pub checked: bool,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
            checked: true,
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
            checked: true,
        }
    }

    pub fn error(status: u16, category: &str, message: &str) -> Reply {
        Reply::json(
            status,
            json!({
                "status": "error",
                "message": message,
                "correlationId": uuid::Uuid::new_v4().to_string(),
                "category": category
            }),
        )
    }
}

pub(super) async fn handle(
    Shared(shared): Shared<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (response, stalled) = answer(&shared, method, uri, headers, body);
    if stalled {
        return std::future::pending().await;
    }
    response
}

/// The answer to one request, and whether it is to be withheld (see
/// `FakeHubSpot::stall_batch_answers`).
fn answer(
    shared: &Mutex<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (Response, bool) {
    let mut state = shared.lock().unwrap();
    let incoming = state.ledger.record(method, &uri, headers, body);
    // No properties spec is in ../shared/specs: that one read is checked by hand (a GET with
    // no body and no query) and its answer is not schema-checked.
    let properties_read = incoming.path.starts_with("/crm/v3/properties/meetings/");
    let contract = Contract::hubspot().filter(|_| !properties_read);
    let problems = if properties_read {
        let shaped =
            incoming.method == Method::GET && incoming.body.is_empty() && incoming.query.is_none();
        match shaped {
            true => Vec::new(),
            false => vec![format!(
                "{} {}: not a property read",
                incoming.method, incoming.path
            )],
        }
    } else {
        contract.map_or_else(Vec::new, |contract| contract.check(&incoming.request()))
    };
    let reply = if !problems.is_empty() {
        state.ledger.violations.extend(problems.iter().cloned());
        Reply::error(400, "VALIDATION_ERROR", &problems.join("; "))
    } else if state.token_expired || !authorized(&incoming.headers) {
        Reply::error(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
        )
    } else if let Some(throttle) = incoming
        .path
        .ends_with("/meetings/batch/upsert")
        .then(|| state.batch_throttles.pop_front())
        .flatten()
    {
        throttled(throttle)
    } else if let Some(throttle) = (!properties_read)
        .then(|| state.throttles.pop_front())
        .flatten()
    {
        // A queued 429 is meant for the scenario's object requests, not calsync's one-time read
        // of the property definition.
        throttled(throttle)
    } else {
        let query = incoming.query_map();
        route(
            &mut state,
            &incoming.method,
            &incoming.path,
            &query,
            &incoming.json,
        )
    };
    let stalled = state.stall_batch_answers
        && incoming.path.ends_with("/meetings/batch/upsert")
        && reply.status < 300;
    if reply.checked {
        let body = reply.body.as_ref().map(Value::to_string);
        let body = body.unwrap_or_default();
        state
            .ledger
            .check_answer(contract, &incoming, reply.status, &body);
    }
    (respond(reply), stalled)
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == format!("Bearer {HUBSPOT_TOKEN}"))
}

fn respond(reply: Reply) -> Response {
    let mut response = Response::builder()
        .status(reply.status)
        .header("x-hubspot-ratelimit-max", "190")
        .header("x-hubspot-ratelimit-interval-milliseconds", "10000");
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    match reply.body {
        Some(body) => response
            .header("content-type", "application/json;charset=utf-8")
            .body(Body::from(body.to_string())),
        None => response.body(Body::empty()),
    }
    .unwrap()
}

fn throttled(throttle: Throttle) -> Reply {
    let (policy, message, mut headers) = match throttle {
        Throttle::TenSecondly {
            retry_after,
            interval_ms,
        } => {
            let mut headers = vec![
                ("x-hubspot-ratelimit-remaining", "0".to_owned()),
                (
                    "x-hubspot-ratelimit-interval-milliseconds",
                    interval_ms.to_string(),
                ),
            ];
            if let Some(seconds) = retry_after {
                headers.push(("retry-after", seconds.to_string()));
            }
            (
                "TEN_SECONDLY_ROLLING",
                "You have reached your ten_secondly_rolling limit.",
                headers,
            )
        }
        Throttle::Daily => (
            "DAILY",
            "You have reached your daily limit.",
            vec![
                ("x-hubspot-ratelimit-daily", "250000".to_owned()),
                ("x-hubspot-ratelimit-daily-remaining", "0".to_owned()),
            ],
        ),
    };
    let body = json!({
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": uuid::Uuid::new_v4().to_string(),
        "policyName": policy,
        "requestId": uuid::Uuid::new_v4().to_string()
    });
    headers.push(("content-type", "application/json".to_owned()));
    Reply {
        status: 429,
        body: Some(body),
        headers,
        checked: false,
    }
}

fn route(
    state: &mut State,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    body: &Value,
) -> Reply {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|segment| percent_decode_str(segment).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = method.as_str();
    match segments.as_slice() {
        ["crm", "objects", "2026-03", "meetings", rest @ ..] => {
            meetings::route(state, method, rest, query, body)
        }
        ["crm", "owners", "2026-03"] if method == "GET" => owners(state, query),
        ["crm", "v3", "properties", "meetings", name] if method == "GET" => {
            batch::property(state, name)
        }
        [
            "crm",
            "v4",
            "associations",
            "meetings",
            "contacts",
            "batch",
            action,
        ] if method == "POST" => batch::links(state, action, body),
        ["crm", "v3", "objects", "contacts", rest @ ..] => match (method, rest) {
            ("GET", [key]) => people::get_contact(state, key, query),
            ("POST", []) => people::create_contact(state, body),
            _ => not_found(path),
        },
        [
            "crm",
            "v4",
            "objects",
            "meetings",
            id,
            "associations",
            "contacts",
        ] if method == "GET" => people::list_links(state, id, query),
        _ => not_found(path),
    }
}

/// `GET /crm/owners/2026-03?email=`: the owners with that email (HubSpot matches loosely, without
/// case; so does the fake), or every owner.
fn owners(state: &State, query: &HashMap<String, String>) -> Reply {
    let wanted = query.get("email").map(|email| email.to_lowercase());
    let results: Vec<Value> = state
        .owners
        .iter()
        .filter(|(_, email)| {
            wanted
                .as_ref()
                .is_none_or(|wanted| email.to_lowercase() == *wanted)
        })
        .map(|(id, email)| {
            json!({
                "id": id,
                "email": email,
                "type": "PERSON",
                "archived": false,
                "userId": id.parse::<i64>().unwrap_or(0),
                "createdAt": "2026-01-01T00:00:00Z",
                "updatedAt": "2026-01-01T00:00:00Z"
            })
        })
        .collect();
    Reply::json(200, json!({ "results": results }))
}

fn not_found(path: &str) -> Reply {
    Reply::error(404, "OBJECT_NOT_FOUND", &format!("the fake has no {path}"))
}
