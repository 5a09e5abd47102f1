//! The fake HubSpot's meetings endpoints: create, patch, archive, list and search, with the
//! property checks HubSpot itself makes.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::routes::Reply;
use super::{Link, Meeting, State};

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

/// `…/meetings` + `rest`.
pub(super) fn route(
    state: &mut State,
    method: &str,
    rest: &[&str],
    query: &HashMap<String, String>,
    body: &Value,
) -> Reply {
    match (method, rest) {
        ("GET", []) => list_meetings(state, query),
        ("POST", []) => create_meeting(state, body),
        ("POST", ["search"]) => search(state, body),
        ("POST", ["batch", "upsert"]) => super::batch::upsert(state, body),
        ("POST", ["batch", "archive"]) => super::batch::archive(state, body),
        ("POST", ["batch", "update"]) => super::batch::update(state, body),
        ("PATCH", [id]) => patch_meeting(state, id, body),
        ("DELETE", [id]) => archive(state, id),
        ("PUT", [id, "associations", "default", "contacts", contact]) => {
            super::people::link(state, id, contact)
        }
        ("DELETE", [id, "associations", "contacts", contact]) => {
            state
                .links
                .retain(|l| !(l.meeting == *id && l.contact == *contact));
            Reply::empty(204)
        }
        _ => Reply::error(
            404,
            "OBJECT_NOT_FOUND",
            "the fake has no such meetings route",
        ),
    }
}

pub(super) fn now() -> String {
    jiff::Timestamp::now().to_string()
}

pub(super) fn object(id: &str, properties: &Map<String, Value>, archived: bool) -> Value {
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

/// HubSpot's cap on one property value, in characters.
const MAX_PROPERTY_VALUE: usize = 65_536;

/// HubSpot's answer to properties it does not know or values it does not accept.
pub(super) fn invalid_properties(state: &State, properties: &Map<String, Value>) -> Option<Reply> {
    for (name, value) in properties {
        let known = MEETING_PROPERTIES.contains(&name.as_str())
            || state.custom_properties.iter().any(|p| p == name);
        let value = value.as_str().unwrap_or("");
        let length = value.chars().count();
        let problem = if !known {
            format!("Property \"{name}\" does not exist (PROPERTY_DOESNT_EXIST)")
        } else if length > MAX_PROPERTY_VALUE {
            format!("{name} is {length} characters, more than {MAX_PROPERTY_VALUE} (TOO_LONG)")
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
