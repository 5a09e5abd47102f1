//! sObject Collections of the fake org (`crms.md`, "Batch writes and owners"), validated as
//! strictly as the single requests:
//!
//! - `PATCH /composite/sobjects/Event/{field}` (v46.0+): the body is exactly `{"allOrNone":
//!   false, "records": [...]}` with 1 to 200 records; each record is an object with
//!   `attributes` exactly `{"type": "Event"}`, the external id field as a non-empty string
//!   (once per request), and otherwise only fields the single upsert accepts, checked by the
//!   same validation. Answer: 200 with an array in input order of `{id, success, errors
//!   [{statusCode, message, fields}], created}`; a refused record never stops the others.
//! - `DELETE /composite/sobjects?ids=a,b&allOrNone=false` (1 to 200 ids, no repeat): per id,
//!   deleted (`success`), `ENTITY_IS_DELETED` (in the Recycle Bin already) or `NOT_FOUND`.
//!
//! A malformed request (anything but the above) is refused whole with 400, as Salesforce does;
//! the fake implements only `allOrNone: false`, the mode calsync must use.

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::sobjects::{Refusal, Upserted, major, rejected, upsert_event, validate};
use super::{EXTERNAL_ID_FIELD, SfState, error, not_found};

/// The most records or ids of one request.
pub const MAX_RECORDS: usize = 200;

/// One entry of the answer.
fn entry(id: Option<&str>, created: Option<bool>, refusal: Option<&Refusal>) -> Value {
    let errors: Vec<Value> = refusal
        .map(|r| json!({"statusCode": r.code, "message": r.message, "fields": r.fields}))
        .into_iter()
        .collect();
    let mut entry = json!({"id": id, "success": refusal.is_none(), "errors": errors});
    if let Some(created) = created {
        entry["created"] = json!(created);
    }
    entry
}

fn malformed(message: &str) -> Response {
    error(400, "JSON_PARSER_ERROR", message, &[])
}

/// `PATCH /composite/sobjects/Event/{field}`.
pub fn upsert(state: &mut SfState, version: &str, field: &str, body: &Bytes) -> Response {
    if major(version) < 46 {
        return not_found();
    }
    if !field.eq_ignore_ascii_case(EXTERNAL_ID_FIELD) {
        let message =
            format!("Provided external ID field does not exist or is not accessible: {field}");
        return error(404, "NOT_FOUND", &message, &[]);
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return malformed("The request body is not a JSON object");
    };
    if let Some(unknown) = request
        .keys()
        .find(|key| !["allOrNone", "records"].contains(&key.as_str()))
    {
        return malformed(&format!("Unrecognized field \"{unknown}\""));
    }
    if request.get("allOrNone") != Some(&json!(false)) {
        return malformed("the fake implements allOrNone: false only, and calsync must send it");
    }
    let Some(Value::Array(records)) = request.get("records") else {
        return malformed("records must be an array");
    };
    if records.is_empty() || records.len() > MAX_RECORDS {
        let message = format!("between 1 and {MAX_RECORDS} records, got {}", records.len());
        return error(400, "EXCEEDED_ID_LIMIT", &message, &[]);
    }
    let mut parsed = Vec::with_capacity(records.len());
    for record in records {
        match split(record) {
            Ok(split) => parsed.push(split),
            Err(message) => return malformed(&message),
        }
    }
    state.collection_sizes.push(parsed.len());
    let mut seen = HashMap::new();
    for (key, _) in &parsed {
        *seen.entry(key.clone()).or_insert(0) += 1;
    }
    let entries: Vec<Value> = parsed
        .into_iter()
        .map(|(key, fields)| {
            if seen[&key] > 1 {
                let refusal = Refusal {
                    status: 400,
                    code: "DUPLICATE_VALUE".into(),
                    message: format!("Duplicate external id specified: {key}"),
                    fields: vec![EXTERNAL_ID_FIELD.into()],
                };
                return entry(None, None, Some(&refusal));
            }
            let written = validate(state, &fields)
                .and_then(|()| rejected(state, &key))
                .and_then(|()| upsert_event(state, &key, fields));
            match written {
                Ok(Upserted::Created(id)) => entry(Some(&id), Some(true), None),
                Ok(Upserted::Updated(id)) => entry(Some(&id), Some(false), None),
                Ok(Upserted::Several(_)) => {
                    let refusal = Refusal {
                        status: 300,
                        code: "DUPLICATE_EXTERNAL_ID".into(),
                        message: format!(
                            "{EXTERNAL_ID_FIELD}: more than one record found for external id field: {key}"
                        ),
                        fields: Vec::new(),
                    };
                    entry(None, None, Some(&refusal))
                }
                Err(refusal) => entry(None, None, Some(&refusal)),
            }
        })
        .collect();
    axum::Json(Value::Array(entries)).into_response()
}

/// A record's external id and its other fields, or why the record is malformed.
fn split(record: &Value) -> Result<(String, Map<String, Value>), String> {
    let Value::Object(record) = record else {
        return Err("each record must be an object".into());
    };
    let mut fields = record.clone();
    if fields.remove("attributes") != Some(json!({"type": "Event"})) {
        return Err("each record needs attributes {\"type\": \"Event\"}".into());
    }
    match fields.remove(EXTERNAL_ID_FIELD) {
        Some(Value::String(key)) if !key.is_empty() => Ok((key, fields)),
        _ => Err(format!("each record needs {EXTERNAL_ID_FIELD} as text")),
    }
}

/// `DELETE /composite/sobjects?ids=…&allOrNone=false`.
pub fn delete(state: &mut SfState, version: &str, query: &HashMap<String, String>) -> Response {
    if major(version) < 42 {
        return not_found();
    }
    let known = ["ids", "allOrNone"];
    if query.keys().any(|key| !known.contains(&key.as_str())) {
        return malformed("unknown query parameter");
    }
    if query.get("allOrNone").map(String::as_str) != Some("false") {
        return malformed("the fake implements allOrNone=false only, and calsync must send it");
    }
    let ids: Vec<&str> = query
        .get("ids")
        .map_or(Vec::new(), |ids| ids.split(',').collect());
    let distinct: HashSet<&&str> = ids.iter().collect();
    let well_formed = ids
        .iter()
        .all(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()));
    if ids.is_empty() || ids.len() > MAX_RECORDS || distinct.len() != ids.len() || !well_formed {
        return error(
            400,
            "MALFORMED_ID",
            "ids must list 1 to 200 distinct record ids",
            &[],
        );
    }
    state.collection_sizes.push(ids.len());
    let entries: Vec<Value> = ids
        .into_iter()
        .map(|id| {
            let event = state
                .records
                .iter_mut()
                .find(|record| record.id == id && record.object == "Event");
            let refusal = |code: &str, message: &str| Refusal {
                status: 404,
                code: code.into(),
                message: message.into(),
                fields: Vec::new(),
            };
            match event {
                Some(record) if record.deleted => entry(
                    Some(id),
                    None,
                    Some(&refusal("ENTITY_IS_DELETED", "entity is deleted")),
                ),
                Some(record) => {
                    record.deleted = true;
                    entry(Some(id), None, None)
                }
                None => entry(
                    None,
                    None,
                    Some(&refusal(
                        "NOT_FOUND",
                        "The requested resource does not exist",
                    )),
                ),
            }
        })
        .collect();
    axum::Json(Value::Array(entries)).into_response()
}
