//! The fake HubSpot's request handling: contract check, auth, throttling, then the endpoints.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State as Shared;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use super::{HUBSPOT_TOKEN, Link, Meeting, Seen, State, Throttle};
use crate::support::openapi::{Contract, Request};

/// HubSpot's own meeting properties (`crms.md`); custom ones come from the portal's settings.
const MEETING_PROPERTIES: &[&str] = &[
    "hs_timestamp",
    "hs_meeting_title",
    "hs_meeting_body",
    "hs_internal_meeting_notes",
    "hs_meeting_external_url",
    "hs_meeting_location",
    "hs_meeting_start_time",
    "hs_meeting_end_time",
    "hs_meeting_outcome",
    "hubspot_owner_id",
];

const OUTCOMES: &[&str] = &[
    "SCHEDULED",
    "COMPLETED",
    "RESCHEDULED",
    "NO_SHOW",
    "CANCELED",
];

const CONTACT_PROPERTIES: &[&str] = &["email", "firstname", "lastname"];

/// An answer before it becomes an HTTP response.
struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    /// Checked against the response schema (not for 429s, whose real body differs from the
    /// spec's error shape, nor for a simulated lost answer).
    checked: bool,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
            checked: true,
        }
    }

    fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
            checked: true,
        }
    }

    fn error(status: u16, category: &str, message: &str) -> Reply {
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
    Shared(state): Shared<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.requests.push(Seen {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        body: json_body.clone(),
        at: std::time::Instant::now(),
    });
    let contract = Contract::hubspot();
    let request = Request {
        method: method.as_str(),
        path: &path,
        query: query.as_deref(),
        headers: &headers,
        body: &body,
    };
    let problems = contract.check(&request);
    let reply = if !problems.is_empty() {
        state.violations.extend(problems.iter().cloned());
        Reply::error(400, "VALIDATION_ERROR", &problems.join("; "))
    } else if state.token_expired || !authorized(&headers) {
        Reply::error(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
        )
    } else if let Some(throttle) = state.throttles.pop_front() {
        throttled(throttle)
    } else {
        let query: HashMap<String, String> =
            url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        route(&mut state, &method, &path, &query, &json_body)
    };
    if reply.checked {
        let bytes = reply
            .body
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        let problems =
            contract.check_response(method.as_str(), &path, reply.status, bytes.as_bytes());
        state
            .violations
            .extend(problems.into_iter().map(|p| format!("fake answer: {p}")));
    }
    respond(reply)
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
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["crm", "objects", "2026-03", "meetings"]) => list_meetings(state, query),
        ("POST", ["crm", "objects", "2026-03", "meetings"]) => create_meeting(state, body),
        ("POST", ["crm", "objects", "2026-03", "meetings", "search"]) => search(state, body),
        ("PATCH", ["crm", "objects", "2026-03", "meetings", id]) => patch_meeting(state, id, body),
        ("DELETE", ["crm", "objects", "2026-03", "meetings", id]) => archive(state, id),
        (
            "PUT",
            [
                "crm",
                "objects",
                "2026-03",
                "meetings",
                id,
                "associations",
                "default",
                "contacts",
                contact,
            ],
        ) => link(state, id, contact),
        (
            "DELETE",
            [
                "crm",
                "objects",
                "2026-03",
                "meetings",
                id,
                "associations",
                "contacts",
                contact,
            ],
        ) => {
            state
                .links
                .retain(|l| !(l.meeting == *id && l.contact == *contact));
            Reply::empty(204)
        }
        ("GET", ["crm", "v3", "objects", "contacts", key]) => get_contact(state, key, query),
        ("POST", ["crm", "v3", "objects", "contacts"]) => create_contact(state, body),
        (
            "GET",
            [
                "crm",
                "v4",
                "objects",
                "meetings",
                id,
                "associations",
                "contacts",
            ],
        ) => list_links(state, id, query),
        _ => Reply::error(404, "OBJECT_NOT_FOUND", &format!("the fake has no {path}")),
    }
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn object(id: &str, properties: &Map<String, Value>, archived: bool) -> Value {
    let mut properties = properties.clone();
    properties.insert("hs_object_id".into(), json!(id));
    json!({
        "id": id,
        "properties": properties,
        "createdAt": now(),
        "updatedAt": now(),
        "archived": archived
    })
}

/// HubSpot's answer to properties it does not know or values it does not accept.
fn invalid_properties(state: &State, properties: &Map<String, Value>) -> Option<Reply> {
    for (name, value) in properties {
        let known = MEETING_PROPERTIES.contains(&name.as_str())
            || state.custom_properties.iter().any(|p| p == name);
        let value = value.as_str().unwrap_or("");
        let problem = if !known {
            format!("Property \"{name}\" does not exist (PROPERTY_DOESNT_EXIST)")
        } else if name == "hs_meeting_outcome" && !OUTCOMES.contains(&value) {
            format!("{value} was not one of the allowed options (INVALID_OPTION)")
        } else if name.ends_with("_time") || name == "hs_timestamp" {
            if value.is_empty()
                || value.parse::<jiff::Timestamp>().is_ok()
                || value.parse::<i64>().is_ok()
            {
                continue;
            }
            format!("{value} is not a valid datetime for {name} (INVALID_DATETIME)")
        } else {
            continue;
        };
        return Some(Reply::error(
            400,
            "VALIDATION_ERROR",
            &format!("Property values were not valid: {problem}"),
        ));
    }
    None
}

fn create_meeting(state: &mut State, body: &Value) -> Reply {
    let properties = body["properties"].as_object().cloned().unwrap_or_default();
    if let Some(reply) = invalid_properties(state, &properties) {
        return reply;
    }
    if properties
        .get("hs_timestamp")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Reply::error(400, "VALIDATION_ERROR", "hs_timestamp is required");
    }
    let mut contacts = Vec::new();
    for association in body["associations"].as_array().into_iter().flatten() {
        let to = association["to"]["id"].as_str().unwrap_or("");
        let default_type = association["types"].as_array().is_some_and(|types| {
            types.iter().all(|t| {
                t["associationCategory"] == "HUBSPOT_DEFINED" && t["associationTypeId"] == 200
            })
        });
        if !default_type || !state.contacts.iter().any(|c| c.id == to) {
            return Reply::error(
                400,
                "VALIDATION_ERROR",
                "One or more associations are invalid",
            );
        }
        contacts.push(to.to_owned());
    }
    let id = state.new_id();
    state.meetings.push(Meeting {
        id: id.clone(),
        properties: properties.clone(),
        archived: false,
    });
    for contact in contacts {
        state.links.push(Link {
            meeting: id.clone(),
            contact,
            label: None,
        });
    }
    if std::mem::take(&mut state.lose_next_create) {
        return Reply {
            status: 504,
            body: None,
            headers: Vec::new(),
            checked: false,
        };
    }
    Reply::json(201, object(&id, &properties, false))
}

fn patch_meeting(state: &mut State, id: &str, body: &Value) -> Reply {
    let properties = body["properties"].as_object().cloned().unwrap_or_default();
    if let Some(reply) = invalid_properties(state, &properties) {
        return reply;
    }
    let Some(meeting) = state
        .meetings
        .iter_mut()
        .find(|m| m.id == id && !m.archived)
    else {
        return Reply::error(
            404,
            "OBJECT_NOT_FOUND",
            "Object not found.  objectId are usually numeric.",
        );
    };
    meeting.properties.extend(properties);
    Reply::json(200, object(id, &meeting.properties, false))
}

fn archive(state: &mut State, id: &str) -> Reply {
    match state.meetings.iter_mut().find(|m| m.id == id) {
        Some(meeting) => {
            meeting.archived = true;
            Reply::empty(204)
        }
        None => Reply::error(404, "OBJECT_NOT_FOUND", "Object not found."),
    }
}

fn list_meetings(state: &State, query: &HashMap<String, String>) -> Reply {
    let limit = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(10);
    let results: Vec<Value> = state
        .meetings
        .iter()
        .filter(|m| !m.archived)
        .take(limit)
        .map(|m| object(&m.id, &m.properties, false))
        .collect();
    Reply::json(200, json!({"results": results}))
}

fn search(state: &State, body: &Value) -> Reply {
    let groups = body["filterGroups"].as_array().cloned().unwrap_or_default();
    let matches = |meeting: &Meeting| {
        groups.iter().any(|group| {
            group["filters"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|filter| {
                    let name = filter["propertyName"].as_str().unwrap_or("");
                    filter["operator"] == "EQ"
                        && Some(meeting.prop(name)) == filter["value"].as_str()
                })
        })
    };
    let limit = body["limit"].as_u64().unwrap_or(10) as usize;
    let found: Vec<&Meeting> = state
        .meetings
        .iter()
        .filter(|m| !m.archived && matches(m))
        .collect();
    let results: Vec<Value> = found
        .iter()
        .take(limit)
        .map(|m| object(&m.id, &m.properties, false))
        .collect();
    Reply::json(200, json!({"total": found.len(), "results": results}))
}

fn link(state: &mut State, id: &str, contact: &str) -> Reply {
    let meeting = state.meetings.iter().any(|m| m.id == id && !m.archived);
    if !meeting || !state.contacts.iter().any(|c| c.id == contact) {
        return Reply::error(404, "OBJECT_NOT_FOUND", "One of the objects does not exist");
    }
    let exists = state
        .links
        .iter()
        .any(|l| l.meeting == id && l.contact == contact && l.label.is_none());
    if !exists {
        state.links.push(Link {
            meeting: id.to_owned(),
            contact: contact.to_owned(),
            label: None,
        });
    }
    Reply::json(
        200,
        json!({
            "status": "COMPLETE",
            "results": [{
                "from": {"id": id},
                "to": {"id": contact},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 200}
            }],
            "startedAt": now(),
            "completedAt": now()
        }),
    )
}

fn list_links(state: &State, id: &str, query: &HashMap<String, String>) -> Reply {
    let mut by_contact: Vec<(String, Vec<Value>)> = Vec::new();
    for link in state.links.iter().filter(|l| l.meeting == id) {
        let kind = match &link.label {
            Some(label) => json!({"category": "USER_DEFINED", "typeId": 7, "label": label}),
            None => json!({"category": "HUBSPOT_DEFINED", "typeId": 200}),
        };
        match by_contact
            .iter_mut()
            .find(|(contact, _)| *contact == link.contact)
        {
            Some((_, kinds)) => kinds.push(kind),
            None => by_contact.push((link.contact.clone(), vec![kind])),
        }
    }
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(500);
    let limit = state.links_page_size.map_or(limit, |size| size.min(limit));
    let start: usize = query.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let results: Vec<Value> = by_contact
        .iter()
        .skip(start)
        .take(limit)
        .map(|(contact, kinds)| json!({"toObjectId": contact, "associationTypes": kinds}))
        .collect();
    let mut body = json!({"results": results});
    if start + limit < by_contact.len() {
        body["paging"] = json!({"next": {"after": (start + limit).to_string()}});
    }
    Reply::json(200, body)
}

fn contact_object(contact: &super::Contact) -> Value {
    let mut properties = Map::new();
    properties.insert("email".into(), json!(contact.email));
    if let Some(first) = &contact.firstname {
        properties.insert("firstname".into(), json!(first));
    }
    if let Some(last) = &contact.lastname {
        properties.insert("lastname".into(), json!(last));
    }
    object(&contact.id, &properties, false)
}

fn get_contact(state: &State, key: &str, query: &HashMap<String, String>) -> Reply {
    let by_email = query.get("idProperty").map(String::as_str) == Some("email");
    let found = state.contacts.iter().find(|c| {
        if by_email {
            c.email == key.to_lowercase()
        } else {
            c.id == key
        }
    });
    match found {
        Some(contact) => Reply::json(200, contact_object(contact)),
        None => Reply::error(404, "OBJECT_NOT_FOUND", "Object not found."),
    }
}

fn create_contact(state: &mut State, body: &Value) -> Reply {
    let properties = body["properties"].as_object().cloned().unwrap_or_default();
    if let Some(name) = properties
        .keys()
        .find(|name| !CONTACT_PROPERTIES.contains(&name.as_str()))
    {
        let message = format!("Property values were not valid: Property \"{name}\" does not exist");
        return Reply::error(400, "VALIDATION_ERROR", &message);
    }
    let text = |name: &str| properties.get(name).and_then(Value::as_str);
    let Some(email) = text("email") else {
        return Reply::error(400, "VALIDATION_ERROR", "email is required");
    };
    if let Some(existing) = state
        .contacts
        .iter()
        .find(|c| c.email == email.to_lowercase())
    {
        let message = format!("Contact already exists. Existing ID: {}", existing.id);
        return Reply::error(409, "CONFLICT", &message);
    }
    let id = state.add_contact(email, text("firstname"), text("lastname"));
    let contact = state.contacts.iter().find(|c| c.id == id).cloned().unwrap();
    let mut reply = contact_object(&contact);
    reply["archived"] = json!(false);
    Reply::json(201, reply)
}
