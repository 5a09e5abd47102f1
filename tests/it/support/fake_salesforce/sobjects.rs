//! Event and Contact semantics of the fake org: upsert by external id, read by external id,
//! delete to the Recycle Bin, describe, and Contact creation, with Salesforce's validation
//! (unknown fields, lengths, times, the 14-day cap, `WhoId`/`EventWhoIds` references).

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Map, Value, json};

use super::{EXTERNAL_ID_FIELD, SfState, error, not_found};

/// Event fields the fake knows (besides `Id`, the external id and `EventWhoIds`).
const EVENT_FIELDS: &[&str] = &[
    "Subject",
    "Description",
    "Location",
    "IsAllDayEvent",
    "ActivityDate",
    "StartDateTime",
    "EndDateTime",
    "DurationInMinutes",
    "ShowAs",
    "IsPrivate",
    "WhoId",
    "WhatId",
    "OwnerId",
];

/// Text fields and their lengths (UTF-16 code units).
const LENGTHS: &[(&str, usize)] = &[("Subject", 255), ("Location", 255), ("Description", 32_000)];

/// A refusal of a record: what the single request answers with, and what a collections
/// request lists for the record.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub fields: Vec<String>,
}

impl Refusal {
    /// The single request's answer.
    pub fn response(&self) -> Response {
        let fields: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        error(self.status, &self.code, &self.message, &fields)
    }
}

/// A validation result; the refusal is boxed (it is large).
pub type Checked = Result<(), Box<Refusal>>;

/// `GET /sobjects/Event/describe`.
pub fn describe(state: &SfState) -> Response {
    let mut fields: Vec<Value> = std::iter::once("Id")
        .chain(EVENT_FIELDS.iter().copied())
        .map(|name| json!({"name": name, "externalId": false, "unique": false}))
        .collect();
    fields.push(json!({"name": EXTERNAL_ID_FIELD, "externalId": true, "unique": true}));
    if state.shared_activities {
        fields.push(json!({"name": "EventWhoIds", "externalId": false, "unique": false}));
    }
    axum::Json(json!({"name": "Event", "fields": fields})).into_response()
}

/// `PATCH /sobjects/Event/{field}/{value}`.
pub fn upsert(
    state: &mut SfState,
    version: &str,
    field: &str,
    value: &str,
    body: &Bytes,
) -> Response {
    if !field.eq_ignore_ascii_case(EXTERNAL_ID_FIELD) {
        let message =
            format!("Provided external ID field does not exist or is not accessible: {field}");
        return error(404, "NOT_FOUND", &message, &[]);
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return error(
            400,
            "JSON_PARSER_ERROR",
            "The request body is not a JSON object",
            &[],
        );
    };
    if let Err(refusal) = validate(state, &fields).and_then(|()| rejected(state, value)) {
        return refusal.response();
    }
    match upsert_event(state, value, fields) {
        Ok(Upserted::Created(id)) => {
            let body = json!({"id": id, "success": true, "errors": [], "created": true});
            (StatusCode::CREATED, axum::Json(body)).into_response()
        }
        Ok(Upserted::Updated(_)) if major(version) < 46 => StatusCode::NO_CONTENT.into_response(),
        Ok(Upserted::Updated(id)) => {
            let body = json!({"id": id, "success": true, "errors": [], "created": false});
            axum::Json(body).into_response()
        }
        Ok(Upserted::Several(several)) => multiple_choices(state, version, &several),
        Err(refusal) => refusal.response(),
    }
}

/// What an upsert by external id did.
pub enum Upserted {
    Created(String),
    Updated(String),
    /// Several live Events hold the external id (their indexes): nothing was written.
    Several(Vec<usize>),
}

/// Creates or updates the Event holding `value` with `fields` (already validated): a new Event
/// needs its times.
pub fn upsert_event(
    state: &mut SfState,
    value: &str,
    fields: Map<String, Value>,
) -> Result<Upserted, Box<Refusal>> {
    let matches = matching(state, value);
    match matches.as_slice() {
        [] => {
            let timed = fields.contains_key("StartDateTime") && fields.contains_key("EndDateTime");
            if !timed {
                let message = "Required fields are missing: [StartDateTime, EndDateTime]";
                return Err(refuse(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    message,
                    &["StartDateTime", "EndDateTime"],
                ));
            }
            let mut all = fields;
            all.insert(EXTERNAL_ID_FIELD.into(), json!(value));
            Ok(Upserted::Created(state.insert("Event", all)))
        }
        [index] => {
            let record = &mut state.records[*index];
            record.fields.extend(fields);
            Ok(Upserted::Updated(record.id.clone()))
        }
        _ => Ok(Upserted::Several(matches)),
    }
}

/// `GET /sobjects/Event/{field}/{value}`.
pub fn read(state: &SfState, version: &str, field: &str, value: &str) -> Response {
    if !field.eq_ignore_ascii_case(EXTERNAL_ID_FIELD) {
        return not_found();
    }
    match matching(state, value).as_slice() {
        [] => not_found(),
        [index] => {
            let record = &state.records[*index];
            let mut body = record.fields.clone();
            let url = format!("/services/data/{version}/sobjects/Event/{}", record.id);
            body.insert("attributes".into(), json!({"type": "Event", "url": url}));
            body.insert("Id".into(), json!(record.id));
            axum::Json(Value::Object(body)).into_response()
        }
        several => multiple_choices(state, version, several),
    }
}

/// `DELETE /sobjects/Event/{id}`.
pub fn delete(state: &mut SfState, id: &str) -> Response {
    let event = state
        .records
        .iter_mut()
        .find(|record| record.id == id && record.object == "Event");
    match event {
        Some(record) if record.deleted => error(404, "ENTITY_IS_DELETED", "entity is deleted", &[]),
        Some(record) => {
            record.deleted = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found(),
    }
}

/// `DELETE /sobjects/Event/{field}/{value}`.
pub fn delete_by_external_id(
    state: &mut SfState,
    version: &str,
    field: &str,
    value: &str,
) -> Response {
    if !field.eq_ignore_ascii_case(EXTERNAL_ID_FIELD) {
        return not_found();
    }
    match matching(state, value).as_slice() {
        [] => not_found(),
        [index] => {
            state.records[*index].deleted = true;
            StatusCode::NO_CONTENT.into_response()
        }
        several => multiple_choices(state, version, several),
    }
}

/// `POST /sobjects/Contact`.
pub fn create_contact(state: &mut SfState, body: &Bytes) -> Response {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return error(
            400,
            "JSON_PARSER_ERROR",
            "The request body is not a JSON object",
            &[],
        );
    };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !["FirstName", "LastName", "Email"].contains(&key.as_str()))
    {
        let message = format!("No such column '{unknown}' on sobject of type Contact");
        return error(400, "INVALID_FIELD", &message, &[]);
    }
    let last = fields.get("LastName").and_then(Value::as_str).unwrap_or("");
    if last.trim().is_empty() {
        let message = "Required fields are missing: [LastName]";
        return error(400, "REQUIRED_FIELD_MISSING", message, &["LastName"]);
    }
    if last.encode_utf16().count() > 80 {
        return error(
            400,
            "STRING_TOO_LONG",
            "Last Name: data value too large",
            &["LastName"],
        );
    }
    if state.refuse_new_contacts {
        let message =
            "You're creating a duplicate record. We recommend you use an existing record instead.";
        return error(400, "DUPLICATES_DETECTED", message, &[]);
    }
    let id = state.insert("Contact", fields);
    let body = json!({"id": id, "success": true, "errors": []});
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// The refusal of an Event a test marked as invalid ([`super::FakeSalesforce::reject_event`]).
pub fn rejected(state: &SfState, external_id: &str) -> Checked {
    match state.rejected.iter().any(|id| id == external_id) {
        true => Err(refuse(
            400,
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "Subject: rejected by a validation rule",
            &["Subject"],
        )),
        false => Ok(()),
    }
}

/// Indexes of the live Events holding `value` in the external id field.
pub fn matching(state: &SfState, value: &str) -> Vec<usize> {
    let events = state.records.iter().enumerate();
    events
        .filter(|(_, r)| r.object == "Event" && !r.deleted && r.text(EXTERNAL_ID_FIELD) == value)
        .map(|(index, _)| index)
        .collect()
}

/// 300 Multiple Choices: the URLs of the records that match.
fn multiple_choices(state: &SfState, version: &str, indexes: &[usize]) -> Response {
    let urls: Vec<String> = indexes
        .iter()
        .map(|index| {
            format!(
                "/services/data/{version}/sobjects/Event/{}",
                state.records[*index].id
            )
        })
        .collect();
    (StatusCode::MULTIPLE_CHOICES, axum::Json(urls)).into_response()
}

pub fn major(version: &str) -> u32 {
    let number = version.trim_start_matches('v');
    number
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

pub fn validate(state: &SfState, fields: &Map<String, Value>) -> Checked {
    for name in fields.keys() {
        let known = EVENT_FIELDS.contains(&name.as_str())
            || (name == "EventWhoIds" && state.shared_activities);
        if !known {
            let message = format!("No such column '{name}' on sobject of type Event");
            return Err(refuse(400, "INVALID_FIELD", &message, &[]));
        }
    }
    for (name, max) in LENGTHS {
        let length = fields
            .get(*name)
            .and_then(Value::as_str)
            .map_or(0, |t| t.encode_utf16().count());
        if length > *max {
            let message = format!("{name}: data value too large");
            return Err(refuse(400, "STRING_TOO_LONG", &message, &[name]));
        }
    }
    validate_times(fields)?;
    validate_who(state, fields)
}

fn validate_times(fields: &Map<String, Value>) -> Checked {
    let invalid = |name: &str| {
        let message = format!("{name}: value not of required type");
        refuse(400, "INVALID_TYPE_ON_FIELD_IN_RECORD", &message, &[name])
    };
    let time = |name: &str| -> Result<Option<Timestamp>, Box<Refusal>> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => text.parse().map(Some).map_err(|_| invalid(name)),
            Some(_) => Err(invalid(name)),
        }
    };
    let (start, end) = (time("StartDateTime")?, time("EndDateTime")?);
    let all_day = fields.get("IsAllDayEvent").and_then(Value::as_bool) == Some(true);
    let date = match fields.get("ActivityDate") {
        Some(Value::String(text)) => {
            Some(Date::strptime("%Y-%m-%d", text).map_err(|_| invalid("ActivityDate"))?)
        }
        None | Some(Value::Null) => None,
        Some(_) => return Err(invalid("ActivityDate")),
    };
    if all_day && date.is_none() {
        return Err(refuse(
            400,
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [ActivityDate]",
            &["ActivityDate"],
        ));
    }
    if let (Some(start), Some(end)) = (start, end) {
        if end < start {
            return Err(refuse(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                "End Date Time: End must be after start",
                &["EndDateTime"],
            ));
        }
        let limit = if all_day { 13 * 24 } else { 14 * 24 };
        if end.duration_since(start).as_hours() > limit {
            return Err(refuse(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                "Event duration can't exceed 14 days",
                &["EndDateTime"],
            ));
        }
        if all_day && date.map(|d| d.to_string()) != Some(start.to_string()[..10].to_owned()) {
            return Err(refuse(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                "ActivityDate must be the start date",
                &["ActivityDate"],
            ));
        }
    }
    Ok(())
}

fn validate_who(state: &SfState, fields: &Map<String, Value>) -> Checked {
    let object = |id: &str| state.live(id).map(|record| record.object);
    let wrong = |name: &str| {
        let message = format!("{name}: id value of incorrect type");
        refuse(400, "FIELD_INTEGRITY_EXCEPTION", &message, &[name])
    };
    match fields.get("WhoId") {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) if matches!(object(id), Some("Contact" | "Lead")) => {}
        Some(_) => return Err(wrong("WhoId")),
    }
    let Some(list) = fields.get("EventWhoIds") else {
        return Ok(());
    };
    let Some(ids) = list
        .as_array()
        .and_then(|items| items.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
    else {
        return Err(wrong("EventWhoIds"));
    };
    let kinds: Vec<Option<&str>> = ids.iter().map(|id| object(id)).collect();
    let contacts_only = ids.len() <= 50 && kinds.iter().all(|kind| *kind == Some("Contact"));
    let one_lead = kinds == [Some("Lead")];
    if contacts_only || one_lead {
        Ok(())
    } else {
        Err(wrong("EventWhoIds"))
    }
}

/// A refusal for [`Checked`].
fn refuse(status: u16, code: &str, message: &str, fields: &[&str]) -> Box<Refusal> {
    Box::new(Refusal {
        status,
        code: code.to_owned(),
        message: message.to_owned(),
        fields: fields.iter().map(|field| (*field).to_owned()).collect(),
    })
}
