//! The fake HubSpot's batch endpoints (`crms.md`, "Batch writes and owners"): meetings
//! `batch/upsert` by a unique property, `batch/update` by id and `batch/archive`, the associations v4 batch
//! `read`/`create`/`archive` for meeting → contact links, and the properties API's read of one
//! meeting property (whether it has unique values).
//!
//! Like HubSpot: at most 100 inputs; an upsert's `idProperty` must name a property created with
//! unique values (else the whole request is refused); one record named twice in a request is
//! refused; an input with invalid properties fails alone (207 with `errors[]` naming it), its
//! batch-mates are written. An update naming a meeting that does not exist (or is archived) is
//! refused whole with a 404 `OBJECT_NOT_FOUND`, as HubSpot does.

use serde_json::{Map, Value, json};

use super::meetings::{invalid_properties, now, object};
use super::routes::Reply;
use super::{Link, Meeting, State};

/// HubSpot's most inputs per batch request.
const MAX_INPUTS: usize = 100;

/// The inputs of a batch request, or HubSpot's refusal when there are too many.
fn inputs(body: &Value) -> Result<Vec<Value>, Reply> {
    let inputs = body["inputs"].as_array().cloned().unwrap_or_default();
    if inputs.len() > MAX_INPUTS {
        return Err(Reply::error(
            400,
            "VALIDATION_ERROR",
            &format!(
                "Batch input size {} exceeds the limit of {MAX_INPUTS}",
                inputs.len()
            ),
        ));
    }
    Ok(inputs)
}

/// One entry of a batch answer's `errors[]`, naming the input by `id`.
fn item_error(id: &str, message: &str) -> Value {
    json!({
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": message,
        "context": {"ids": [id]},
        "errors": [],
        "links": {}
    })
}

/// The `errors[]` entry of an input HubSpot refuses alone (its event is one the test rejects,
/// or its properties are invalid), naming it by `id`; `None` when it is accepted.
fn refused_input(
    state: &State,
    rejected: bool,
    id: &str,
    properties: &Map<String, Value>,
) -> Option<Value> {
    if rejected {
        return Some(item_error(
            id,
            "Property values were not valid: hs_meeting_title (INVALID_STRING)",
        ));
    }
    let reply = invalid_properties(state, properties)?;
    let message = reply.body.as_ref().and_then(|b| b["message"].as_str());
    Some(item_error(id, message.unwrap_or("")))
}

/// A batch answer: 200 (201 for `created`) when every input succeeded, else 207 with `errors`.
fn batch_answer(results: Vec<Value>, errors: Vec<Value>, created: bool) -> Reply {
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": now(),
        "completedAt": now()
    });
    if errors.is_empty() {
        return Reply::json(if created { 201 } else { 200 }, body);
    }
    body["numErrors"] = json!(errors.len());
    body["errors"] = Value::Array(errors);
    Reply::json(207, body)
}

/// `POST …/meetings/batch/upsert`.
pub(super) fn upsert(state: &mut State, body: &Value) -> Reply {
    let inputs = match inputs(body) {
        Ok(inputs) => inputs,
        Err(reply) => return reply,
    };
    let mut seen = Vec::new();
    for input in &inputs {
        let property = input["idProperty"].as_str().unwrap_or("");
        if !state.unique_properties.iter().any(|p| p == property) {
            return Reply::error(
                400,
                "VALIDATION_ERROR",
                &format!(
                    "{property} is not a unique property of meetings and cannot be an idProperty"
                ),
            );
        }
        let id = input["id"].as_str().unwrap_or("").to_owned();
        if seen.contains(&id) {
            return Reply::error(
                400,
                "VALIDATION_ERROR",
                &format!("Duplicate ID {id} in batch input"),
            );
        }
        seen.push(id);
    }
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in &inputs {
        let property = input["idProperty"].as_str().unwrap_or("");
        let id = input["id"].as_str().unwrap_or("");
        let mut properties: Map<String, Value> =
            input["properties"].as_object().cloned().unwrap_or_default();
        let rejected = state.rejected_events.iter().any(|event| event == id);
        if let Some(error) = refused_input(state, rejected, id, &properties) {
            errors.push(error);
            continue;
        }
        properties.insert(property.to_owned(), json!(id));
        let existing = state
            .meetings
            .iter_mut()
            .find(|m| !m.archived && m.prop(property) == id);
        let (meeting_id, created) = match existing {
            Some(meeting) => {
                meeting.properties.extend(properties);
                (meeting.id.clone(), false)
            }
            None => {
                let meeting_id = state.new_id();
                state.meetings.push(Meeting {
                    id: meeting_id.clone(),
                    properties,
                    archived: false,
                });
                (meeting_id, true)
            }
        };
        let meeting = state.meetings.iter().find(|m| m.id == meeting_id).unwrap();
        let mut result = object(&meeting_id, &meeting.properties, false);
        result["new"] = json!(created);
        results.push(result);
    }
    if std::mem::take(&mut state.lose_next_batch) {
        return Reply {
            status: 504,
            body: None,
            headers: Vec::new(),
            checked: false,
        };
    }
    batch_answer(results, errors, false)
}

/// `POST …/meetings/batch/update`: by HubSpot id.
pub(super) fn update(state: &mut State, body: &Value) -> Reply {
    let inputs = match inputs(body) {
        Ok(inputs) => inputs,
        Err(reply) => return reply,
    };
    let mut seen = Vec::new();
    for input in &inputs {
        let id = input["id"].as_str().unwrap_or("").to_owned();
        if seen.contains(&id) {
            return Reply::error(
                400,
                "VALIDATION_ERROR",
                &format!("Duplicate ID {id} in batch input"),
            );
        }
        if !state.meetings.iter().any(|m| m.id == id && !m.archived) {
            let mut reply = Reply::error(
                404,
                "OBJECT_NOT_FOUND",
                "Could not get some MEETING objects, they may be deleted or not exist. Check that ids are valid.",
            );
            if let Some(body) = reply.body.as_mut() {
                body["context"] = json!({"ids": [id]});
            }
            return reply;
        }
        seen.push(id);
    }
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in &inputs {
        let id = input["id"].as_str().unwrap_or("");
        let properties: Map<String, Value> =
            input["properties"].as_object().cloned().unwrap_or_default();
        let rejected = properties
            .values()
            .filter_map(Value::as_str)
            .any(|value| state.rejected_events.iter().any(|event| event == value));
        if let Some(error) = refused_input(state, rejected, id, &properties) {
            errors.push(error);
            continue;
        }
        if let Some(meeting) = state.meetings.iter_mut().find(|m| m.id == id) {
            meeting.properties.extend(properties);
            results.push(object(id, &meeting.properties, false));
        }
    }
    batch_answer(results, errors, false)
}

/// `POST …/meetings/batch/archive`: ids HubSpot does not know are ignored, as it does.
pub(super) fn archive(state: &mut State, body: &Value) -> Reply {
    let inputs = match inputs(body) {
        Ok(inputs) => inputs,
        Err(reply) => return reply,
    };
    for input in inputs {
        let id = input["id"].as_str().unwrap_or("");
        if let Some(meeting) = state.meetings.iter_mut().find(|m| m.id == id) {
            meeting.archived = true;
        }
    }
    Reply::empty(204)
}

/// `POST /crm/v4/associations/meetings/contacts/batch/{action}`.
pub(super) fn links(state: &mut State, action: &str, body: &Value) -> Reply {
    let inputs = match inputs(body) {
        Ok(inputs) => inputs,
        Err(reply) => return reply,
    };
    match action {
        "read" => read_links(state, &inputs),
        "create" => create_links(state, &inputs),
        "archive" => {
            for input in &inputs {
                let meeting = input["from"]["id"].as_str().unwrap_or("");
                for to in input["to"].as_array().into_iter().flatten() {
                    let contact = to["id"].as_str().unwrap_or("");
                    state
                        .links
                        .retain(|l| !(l.meeting == meeting && l.contact == contact));
                }
            }
            Reply::empty(204)
        }
        _ => Reply::error(404, "OBJECT_NOT_FOUND", "the fake has no such batch route"),
    }
}

fn read_links(state: &State, inputs: &[Value]) -> Reply {
    let mut results = Vec::new();
    for input in inputs {
        let meeting = input["id"].as_str().unwrap_or("");
        let mut by_contact: Vec<(String, Vec<Value>)> = Vec::new();
        for link in state.links.iter().filter(|l| l.meeting == meeting) {
            let kind = match &link.label {
                Some(label) => json!({"category": "USER_DEFINED", "typeId": 7, "label": label}),
                None => json!({"category": "HUBSPOT_DEFINED", "typeId": 200}),
            };
            match by_contact.iter_mut().find(|(c, _)| *c == link.contact) {
                Some((_, kinds)) => kinds.push(kind),
                None => by_contact.push((link.contact.clone(), vec![kind])),
            }
        }
        if by_contact.is_empty() {
            continue; // HubSpot leaves out objects without associations.
        }
        let to: Vec<Value> = by_contact
            .into_iter()
            .map(|(contact, kinds)| json!({"toObjectId": contact, "associationTypes": kinds}))
            .collect();
        results.push(json!({"from": {"id": meeting}, "to": to}));
    }
    batch_answer(results, Vec::new(), false)
}

fn create_links(state: &mut State, inputs: &[Value]) -> Reply {
    for input in inputs {
        let contact = input["to"]["id"].as_str().unwrap_or("");
        let meeting = input["from"]["id"].as_str().unwrap_or("");
        let default_type = input["types"].as_array().is_some_and(|types| {
            types.iter().all(|t| {
                t["associationCategory"] == "HUBSPOT_DEFINED" && t["associationTypeId"] == 200
            })
        });
        let known = state.contacts.iter().any(|c| c.id == contact)
            && state
                .meetings
                .iter()
                .any(|m| m.id == meeting && !m.archived);
        if !default_type || !known {
            return Reply::error(
                400,
                "VALIDATION_ERROR",
                "One or more associations are invalid",
            );
        }
    }
    let mut results = Vec::new();
    for input in inputs {
        let contact = input["to"]["id"].as_str().unwrap_or("").to_owned();
        let meeting = input["from"]["id"].as_str().unwrap_or("").to_owned();
        let exists = state
            .links
            .iter()
            .any(|l| l.meeting == meeting && l.contact == contact && l.label.is_none());
        if !exists {
            state.links.push(Link {
                meeting: meeting.clone(),
                contact: contact.clone(),
                label: None,
            });
        }
        results.push(json!({
            "fromObjectTypeId": "0-47",
            "fromObjectId": meeting,
            "toObjectTypeId": "0-1",
            "toObjectId": contact,
            "labels": []
        }));
    }
    batch_answer(results, Vec::new(), true)
}

/// `GET /crm/v3/properties/meetings/{name}`: the portal's custom property, or 404.
pub(super) fn property(state: &State, name: &str) -> Reply {
    if !state.custom_properties.iter().any(|p| p == name) {
        return Reply::error(
            404,
            "OBJECT_NOT_FOUND",
            &format!("Unable to find property {name}"),
        );
    }
    let unique = state.unique_properties.iter().any(|p| p == name);
    Reply::json(
        200,
        json!({
            "name": name,
            "label": name,
            "type": "string",
            "fieldType": "text",
            "groupName": "meetinginformation",
            "hasUniqueValue": unique,
            "options": []
        }),
    )
}
