//! The fake HubSpot's contacts (read by email, created, 409 on a duplicate email) and
//! meeting → contact links (default association, v4 listing with paging).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::meetings::{now, object};
use super::routes::Reply;
use super::{Link, State};

const CONTACT_PROPERTIES: &[&str] = &["email", "firstname", "lastname"];

pub(super) fn link(state: &mut State, id: &str, contact: &str) -> Reply {
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

pub(super) fn list_links(state: &State, id: &str, query: &HashMap<String, String>) -> Reply {
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

pub(super) fn get_contact(state: &State, key: &str, query: &HashMap<String, String>) -> Reply {
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

pub(super) fn create_contact(state: &mut State, body: &Value) -> Reply {
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
