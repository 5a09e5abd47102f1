//! The fake Pipedrive's request handling: contract check, auth, token budget and burst window,
//! then the endpoints.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State as Shared;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::{Activity, PIPEDRIVE_TOKEN, State};
use crate::support::fake_vendor::Incoming;
use crate::support::openapi::Contract;

/// Activity types every company has.
const ACTIVITY_TYPES: &[&str] = &["call", "meeting", "task", "deadline", "email", "lunch"];

/// An answer before it becomes an HTTP response.
struct Reply {
    status: u16,
    body: Value,
    /// Checked against the response schema (not for a simulated lost answer).
    checked: bool,
}

impl Reply {
    fn ok(data: Value) -> Reply {
        Reply {
            status: 200,
            body: json!({"success": true, "data": data}),
            checked: true,
        }
    }

    fn error(status: u16, error: &str) -> Reply {
        let body = json!({
            "success": false,
            "error": error,
            "errorCode": status,
            "error_info": "Please check developers.pipedrive.com",
            "data": null,
            "additional_data": null
        });
        Reply {
            status,
            body,
            checked: true,
        }
    }
}

/// The `x-token-cost` of an operation (from the spec).
fn token_cost(method: &Method, path: &str) -> i64 {
    let is_item = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .is_some_and(|s| s.parse::<i64>().is_ok());
    match (method.as_str(), path.contains("/persons"), is_item) {
        ("GET", false, false) => 10,
        ("GET", true, false) => 20,
        ("GET", _, true) => 1,
        ("DELETE", _, _) => 3,
        _ => 5,
    }
}

pub(super) async fn handle(
    Shared(state): Shared<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    let incoming = state.ledger.record(method, &uri, headers, body);
    let (reply, reset) = gate(&mut state, &incoming);
    if reply.checked && reply.status != 429 {
        let body = reply.body.to_string();
        let contract = Contract::pipedrive();
        state
            .ledger
            .check_answer(contract, &incoming, reply.status, &body);
    }
    Response::builder()
        .status(reply.status)
        .header("content-type", "application/json")
        .header("x-ratelimit-limit", "40")
        .header(
            "x-ratelimit-remaining",
            if reply.status == 429 { "0" } else { "39" },
        )
        .header("x-ratelimit-reset", reset.to_string())
        .header(
            "x-daily-ratelimit-token-remaining",
            state.budget.to_string(),
        )
        .body(Body::from(reply.body.to_string()))
        .unwrap()
}

/// Contract, auth, burst window and token budget, then the endpoint; also the
/// `x-ratelimit-reset` to report.
fn gate(state: &mut State, incoming: &Incoming) -> (Reply, u64) {
    let (method, path) = (&incoming.method, incoming.path.as_str());
    let problems =
        Contract::pipedrive().map_or_else(Vec::new, |contract| contract.check(&incoming.request()));
    let token = incoming
        .headers
        .get("x-api-token")
        .and_then(|v| v.to_str().ok());
    let cost = token_cost(method, path);
    if !problems.is_empty() {
        state.ledger.violations.extend(problems.iter().cloned());
        return (Reply::error(400, &problems.join("; ")), 2);
    }
    if state.token_expired || token != Some(PIPEDRIVE_TOKEN) {
        return (Reply::error(401, "unauthorized access"), 2);
    }
    if let Some(seconds) = state.bursts.pop_front() {
        return (Reply::error(429, "Request over limit"), seconds);
    }
    if state.budget < cost {
        state.budget = 0;
        return (Reply::error(429, "Daily token budget exhausted"), 2);
    }
    state.budget -= cost;
    let query = incoming.query_map();
    (route(state, method, path, &query, &incoming.json), 2)
}

fn route(
    state: &mut State,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    body: &Value,
) -> Reply {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let id = |text: &str| text.parse::<i64>().ok();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["api", "v2", "activities"]) => list(state, query),
        ("POST", ["api", "v2", "activities"]) => create(state, body),
        ("PATCH", ["api", "v2", "activities", raw]) => match id(raw) {
            Some(id) => patch(state, id, body),
            None => Reply::error(400, "id must be an integer"),
        },
        ("DELETE", ["api", "v2", "activities", raw]) => {
            let found = state
                .activities
                .iter_mut()
                .find(|a| Some(a.id) == id(raw) && !a.deleted);
            match found {
                Some(activity) => {
                    activity.deleted = true;
                    activity.update_time = Timestamp::now();
                    Reply::ok(json!({"id": activity.id}))
                }
                None => Reply::error(404, "Activity not found"),
            }
        }
        ("GET", ["api", "v2", "persons", "search"]) => search_persons(state, query),
        ("GET", ["api", "v1", "users", "find"]) => find_users(state, query),
        ("POST", ["api", "v2", "persons"]) => create_person(state, body),
        _ => Reply::error(404, "Unknown method ."),
    }
}

/// `GET /api/v1/users/find?term=&search_by_email=1`: users whose email contains the term
/// (Pipedrive's search is not exact, and neither is the fake's).
fn find_users(state: &State, query: &HashMap<String, String>) -> Reply {
    let term = query
        .get("term")
        .map(|t| t.to_lowercase())
        .unwrap_or_default();
    if query.get("search_by_email").map(String::as_str) != Some("1") {
        return Reply::error(400, "the fake searches users by email only");
    }
    let users: Vec<Value> = state
        .users
        .iter()
        .filter(|(_, email)| email.to_lowercase().contains(&term))
        .map(|(id, email)| {
            json!({"id": id, "name": email, "email": email, "active_flag": true,
                   "activated": true, "is_you": false})
        })
        .collect();
    Reply::ok(json!(users))
}

/// What Pipedrive itself refuses in an activity body.
fn invalid(state: &State, body: &Value) -> Option<String> {
    let is_hh_mm = |text: &str| {
        let parts: Vec<&str> = text.split(':').collect();
        parts.len() == 2
            && parts
                .iter()
                .all(|p| p.len() >= 2 && p.chars().all(|c| c.is_ascii_digit()))
    };
    if let Some(kind) = body.get("type").and_then(Value::as_str)
        && !ACTIVITY_TYPES.contains(&kind)
    {
        return Some(format!("Invalid activity type {kind}"));
    }
    let location = body.get("location").and_then(|l| l.get("value"));
    let texts = [
        ("subject", body.get("subject"), 255),
        ("location", location, 255),
        ("note", body.get("note"), 65_000),
    ];
    for (field, value, max) in texts {
        let length = value
            .and_then(Value::as_str)
            .map_or(0, |t| t.chars().count());
        if length > max {
            return Some(format!("{field} is longer than {max} characters"));
        }
    }
    if let Some(date) = body.get("due_date").and_then(Value::as_str)
        && date.parse::<jiff::civil::Date>().is_err()
    {
        return Some("due_date must be YYYY-MM-DD".into());
    }
    for field in ["due_time", "duration"] {
        if let Some(text) = body.get(field).and_then(Value::as_str)
            && !is_hh_mm(text)
        {
            return Some(format!("{field} must be HH:MM"));
        }
    }
    let participants = body
        .get("participants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for participant in participants {
        let id = participant["person_id"].as_i64();
        if !state.persons.iter().any(|p| Some(p.id) == id) {
            return Some("Person not found".into());
        }
    }
    None
}

fn activity_json(activity: &Activity) -> Value {
    let mut data = activity.fields.clone();
    data.insert("id".into(), json!(activity.id));
    data.insert("owner_id".into(), json!(1));
    data.insert("creator_user_id".into(), json!(1));
    data.insert("is_deleted".into(), json!(activity.deleted));
    data.insert("add_time".into(), json!(activity.update_time.to_string()));
    data.insert(
        "update_time".into(),
        json!(activity.update_time.to_string()),
    );
    Value::Object(data)
}

fn create(state: &mut State, body: &Value) -> Reply {
    if let Some(problem) = invalid(state, body) {
        return Reply::error(400, &problem);
    }
    let fields: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
    let id = state.new_id();
    let activity = Activity {
        id,
        fields,
        deleted: false,
        update_time: Timestamp::now(),
    };
    let reply = activity_json(&activity);
    state.activities.push(activity);
    if std::mem::take(&mut state.lose_next_create) {
        return Reply {
            status: 502,
            body: json!("Bad Gateway"),
            checked: false,
        };
    }
    Reply::ok(reply)
}

fn patch(state: &mut State, id: i64, body: &Value) -> Reply {
    if let Some(problem) = invalid(state, body) {
        return Reply::error(400, &problem);
    }
    let Some(activity) = state
        .activities
        .iter_mut()
        .find(|a| a.id == id && !a.deleted)
    else {
        return Reply::error(404, "Activity not found");
    };
    for (key, value) in body.as_object().into_iter().flatten() {
        activity.fields.insert(key.clone(), value.clone());
    }
    activity.update_time = Timestamp::now();
    Reply::ok(activity_json(activity))
}

fn list(state: &State, query: &HashMap<String, String>) -> Reply {
    let since = query
        .get("updated_since")
        .and_then(|s| s.parse::<Timestamp>().ok());
    let mut found: Vec<&Activity> = state
        .activities
        .iter()
        .filter(|a| !a.deleted && since.is_none_or(|since| a.update_time >= since))
        .collect();
    if query.get("sort_by").map(String::as_str) == Some("update_time") {
        found.sort_by_key(|a| (a.update_time, a.id));
    }
    if query.get("sort_direction").map(String::as_str) == Some("desc") {
        found.reverse();
    }
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    let start: usize = query
        .get("cursor")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = found
        .iter()
        .skip(start)
        .take(limit)
        .map(|a| activity_json(a))
        .collect();
    let mut body = json!({"success": true, "data": page, "additional_data": {}});
    if start + limit < found.len() {
        body["additional_data"]["next_cursor"] = json!((start + limit).to_string());
    }
    Reply {
        status: 200,
        body,
        checked: true,
    }
}

fn search_persons(state: &State, query: &HashMap<String, String>) -> Reply {
    let term = query
        .get("term")
        .map(|t| t.to_lowercase())
        .unwrap_or_default();
    let exact = query.get("exact_match").map(String::as_str) == Some("true");
    let items: Vec<Value> = state
        .persons
        .iter()
        .filter(|p| {
            p.emails.iter().any(|e| {
                let e = e.to_lowercase();
                if exact { e == term } else { e.contains(&term) }
            })
        })
        .map(|p| {
            json!({
                "result_score": 1.0,
                "item": {
                    "id": p.id, "type": "person", "name": p.name, "phones": [],
                    "emails": p.emails, "visible_to": 3, "owner": {"id": 1},
                    "custom_fields": [], "notes": []
                }
            })
        })
        .collect();
    Reply::ok(json!({"items": items}))
}

fn create_person(state: &mut State, body: &Value) -> Reply {
    let Some(name) = body["name"].as_str().filter(|n| !n.trim().is_empty()) else {
        return Reply::error(400, "Name must be given.");
    };
    let email = body["emails"][0]["value"].as_str().unwrap_or("");
    let id = state.add_person(name, email);
    Reply::ok(json!({
        "id": id,
        "name": name,
        "owner_id": 1,
        "emails": [{"value": email, "primary": true, "label": "work"}],
        "add_time": Timestamp::now().to_string(),
        "update_time": Timestamp::now().to_string()
    }))
}
