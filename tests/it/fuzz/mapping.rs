//! The event mapping under arbitrary JSON: any object either fails to be an `Event` (serde's
//! typed error; only a missing or non-string `id` can do that) or maps to a meeting record or a
//! `MappingError` — never a panic, whatever the numbers, dates, zones or HTML. A record it
//! produces is coherent: keyed by the event id, ends no earlier than it starts, and its
//! duration is the whole minutes between the two.

use calsync::mapping::map_event;
use calsync::nylas::models::Event;
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::config;
use super::json::{json_with_keys, odd_number, odd_string};

const EVENT_KEYS: &[&str] = &[
    "id",
    "grant_id",
    "calendar_id",
    "title",
    "description",
    "location",
    "busy",
    "status",
    "visibility",
    "read_only",
    "html_link",
    "ical_uid",
    "recurrence",
    "master_event_id",
    "original_start_time",
    "created_at",
    "updated_at",
    "when",
    "participants",
    "conferencing",
    "organizer",
    "email",
    "name",
    "provider",
    "details",
    "url",
    "meeting_code",
    "object",
    "time",
    "timezone",
    "start_time",
    "end_time",
    "start_timezone",
    "end_timezone",
    "date",
    "start_date",
    "end_date",
];

/// A `when` of any of the four shapes (or none), with odd values in each field.
fn when() -> impl Strategy<Value = Value> {
    let object = prop_oneof![
        Just(Value::from("time")),
        Just(Value::from("timespan")),
        Just(Value::from("date")),
        Just(Value::from("datespan")),
        Just(Value::Null),
        odd_string().prop_map(Value::from),
    ];
    let date = prop_oneof![
        "(19|20|99)[0-9]{2}-[01][0-9]-[0-3][0-9]",
        Just("-009999-12-31".to_owned()),
        Just("9999-12-31".to_owned()),
        odd_string(),
    ];
    let field = prop_oneof![
        4 => odd_number(),
        1 => date.clone().prop_map(Value::from),
        1 => json_with_keys(EVENT_KEYS),
    ];
    let names = prop::sample::subsequence(
        vec![
            "time",
            "timezone",
            "start_time",
            "end_time",
            "start_timezone",
            "end_timezone",
            "date",
            "start_date",
            "end_date",
        ],
        0..=9,
    );
    (
        object,
        names,
        prop::collection::vec(field, 9),
        prop::collection::vec(date, 3),
    )
        .prop_map(|(object, names, values, dates)| {
            let mut when = Map::new();
            when.insert("object".into(), object);
            for (name, value) in names.into_iter().zip(values) {
                let value = match name {
                    "date" => Value::from(dates[0].clone()),
                    "start_date" => Value::from(dates[1].clone()),
                    "end_date" => Value::from(dates[2].clone()),
                    _ => value,
                };
                when.insert(name.into(), value);
            }
            Value::Object(when)
        })
}

/// An event-like object: usually an id and a `when`, plus arbitrary other fields.
fn event_json() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        8 => odd_string().prop_map(Value::from),
        1 => odd_number(),
        1 => Just(Value::Null),
    ];
    let others = prop::collection::vec(
        (prop::sample::select(EVENT_KEYS), json_with_keys(EVENT_KEYS)),
        0..12,
    );
    (
        proptest::option::weighted(0.95, id),
        proptest::option::weighted(0.9, when()),
        others,
    )
        .prop_map(|(id, when, others)| {
            let mut event: Map<String, Value> = others
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect();
            if let Some(id) = id {
                event.insert("id".into(), id);
            }
            if let Some(when) = when {
                event.insert("when".into(), when);
            }
            Value::Object(event)
        })
}

/// Maps `json` as the worker would; panics only on a broken property.
fn check(json: Value, fallback_grant: &str) -> Result<(), TestCaseError> {
    let event: Event = match serde_json::from_value(json.clone()) {
        Ok(event) => event,
        Err(error) => {
            // Every other field is lenient: only the id can make the object unreadable.
            prop_assert!(
                !json["id"].is_string(),
                "a string id was refused: {error}: {json}"
            );
            return Ok(());
        }
    };
    let Ok(record) = map_event(&event, fallback_grant) else {
        return Ok(());
    };
    prop_assert_eq!(record.event_id.as_str(), event.id.as_str());
    prop_assert!(!record.event_id.as_str().trim().is_empty());
    prop_assert!(
        record.meeting_end_date >= record.meeting_date,
        "ends before it starts: {json}"
    );
    let seconds = record.meeting_end_date.as_second() - record.meeting_date.as_second();
    prop_assert_eq!(record.duration_minutes, seconds / 60, "{}", json);
    prop_assert!(!record.meeting_subject.trim().is_empty());
    // What the adapters and the store do next with a record must not panic either.
    let _ = serde_json::to_value(&record).expect("a record serializes");
    let _ = record.content_hash();
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_event_json_maps_to_a_record_or_a_typed_error(json in event_json(), grant in "[a-z0-9-]{0,12}") {
        check(json, &grant)?;
    }

    #[test]
    fn any_json_value_at_all_is_handled(json in json_with_keys(EVENT_KEYS)) {
        check(json, "grant-1")?;
    }
}
