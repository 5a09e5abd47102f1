//! The envelope parser and its interpretation under arbitrary signed bodies: every body either
//! fails to parse (serde's typed error), is refused with a `NotificationError`, is ignored (a
//! type calsync does not handle) or becomes store work that is internally consistent — never a
//! panic. The metric label of any type stays within its bounded set. Keeping the event object
//! as raw text (issue 13) changed nothing: a body is accepted exactly when it was accepted with
//! the object parsed into a `Value`, and a job's payload reads as that `Value`.

use axum::http::{HeaderMap, HeaderValue};
use calsync::http::verify::{SIGNATURE_HEADER, parse_envelope, sign, verify};
use calsync::intake::{Interpretation, TriggerKind, interpret, parse_trigger};
use calsync::nylas::lenient;
use calsync::store::JobAction;
use calsync::telemetry::metrics::{KNOWN_TRIGGERS, OTHER_TRIGGER, UNKNOWN_TRIGGER, trigger_label};
use jiff::Timestamp;
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use super::config;
use super::json::{json_with_keys, odd_string};

const SECRET: &str = "fuzz-secret";

const ENVELOPE_KEYS: &[&str] = &[
    "specversion",
    "type",
    "source",
    "id",
    "time",
    "webhook_delivery_attempt",
    "data",
    "application_id",
    "object",
    "grant_id",
    "calendar_id",
    "when",
    "updated_at",
    "status",
];

/// A notification `type`: handled, suffixed, near misses, or arbitrary.
fn trigger() -> impl Strategy<Value = String> {
    let handled = prop::sample::select(KNOWN_TRIGGERS.to_vec()).prop_map(str::to_owned);
    prop_oneof![
        4 => handled.clone(),
        2 => (handled, prop::sample::select(vec!["transformed", "truncated", "", "x.y"]))
            .prop_map(|(trigger, suffix)| format!("{trigger}.{suffix}")),
        1 => Just("event".to_owned()),
        1 => Just("EVENT.UPDATED".to_owned()),
        1 => Just(".event.updated".to_owned()),
        1 => "(event|grant|message|calendar)\\.[a-z_.]{0,12}",
        1 => odd_string(),
    ]
}

/// An envelope-shaped body: the fields Nylas sends, each sometimes missing or of another type.
fn envelope_json() -> impl Strategy<Value = Value> {
    let text =
        || prop_oneof![4 => odd_string().prop_map(Value::from), 1 => json_with_keys(ENVELOPE_KEYS)];
    let object = (
        proptest::option::weighted(0.9, text()),
        proptest::option::weighted(0.9, text()),
        proptest::option::weighted(0.5, json_with_keys(ENVELOPE_KEYS)),
        prop::collection::vec(
            (
                prop::sample::select(ENVELOPE_KEYS),
                json_with_keys(ENVELOPE_KEYS),
            ),
            0..4,
        ),
    )
        .prop_map(|(id, grant, when, others)| {
            let mut object: Map<String, Value> =
                others.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            for (key, value) in [("id", id), ("grant_id", grant), ("when", when)] {
                if let Some(value) = value {
                    object.insert(key.into(), value);
                }
            }
            Value::Object(object)
        });
    let object = prop_oneof![8 => object, 1 => json_with_keys(ENVELOPE_KEYS)];
    (
        proptest::option::weighted(0.95, text()),
        proptest::option::weighted(0.95, trigger().prop_map(Value::from)),
        proptest::option::weighted(0.9, object),
        json_with_keys(ENVELOPE_KEYS),
    )
        .prop_map(|(id, trigger, object, extra)| {
            let mut envelope = Map::new();
            envelope.insert("specversion".into(), json!("1.0"));
            envelope.insert("extra".into(), extra);
            if let Some(id) = id {
                envelope.insert("id".into(), id);
            }
            if let Some(trigger) = trigger {
                envelope.insert("type".into(), trigger);
            }
            let mut data = Map::new();
            if let Some(object) = object {
                data.insert("object".into(), object);
            }
            envelope.insert("data".into(), Value::Object(data));
            Value::Object(envelope)
        })
}

/// The envelope as it was read before issue 13: the object parsed into a `Value`.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct ValueEnvelope {
    id: String,
    #[serde(rename = "type")]
    trigger: String,
    #[serde(default, deserialize_with = "lenient::string")]
    specversion: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    source: Option<String>,
    #[serde(default, deserialize_with = "lenient::integer")]
    time: Option<i64>,
    #[serde(default, deserialize_with = "lenient::integer")]
    webhook_delivery_attempt: Option<i64>,
    data: ValueData,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct ValueData {
    #[serde(default, deserialize_with = "lenient::string")]
    application_id: Option<String>,
    #[serde(default)]
    object: Option<Value>,
}

/// Signs `body`, verifies it as the edge does, parses and interprets it.
fn check(body: Vec<u8>) -> Result<(), TestCaseError> {
    let mut headers = HeaderMap::new();
    let signature = sign(SECRET, &body);
    headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(&signature).unwrap());
    let secrets = [SecretString::from(SECRET)];
    let verified = verify(&headers, &body, &secrets, 1 << 20).expect("a correctly signed body");
    let before = serde_json::from_slice::<ValueEnvelope>(&body);
    let parsed = parse_envelope(&verified);
    prop_assert_eq!(parsed.is_ok(), before.is_ok(), "accepted as before");
    let (Ok(envelope), Ok(before)) = (parsed, before) else {
        return Ok(());
    };
    let envelope = envelope.into_inner();
    let label = trigger_label(&envelope.trigger);
    prop_assert!(
        KNOWN_TRIGGERS.contains(&label) || label == OTHER_TRIGGER || label == UNKNOWN_TRIGGER,
        "unbounded label {label:?}"
    );
    let kind = parse_trigger(&envelope.trigger).kind;
    match interpret(envelope.clone(), body, Timestamp::UNIX_EPOCH) {
        Err(_) => {}
        Ok(Interpretation::Ignored) => prop_assert_eq!(kind, TriggerKind::Unhandled),
        Ok(Interpretation::Store(notification)) => {
            prop_assert_ne!(kind, TriggerKind::Unhandled);
            prop_assert_eq!(notification.id.as_str(), envelope.id.as_str());
            prop_assert!(!notification.id.as_str().trim().is_empty());
            let grant = notification
                .grant_id
                .clone()
                .expect("a stored notification names its grant");
            prop_assert!(!grant.as_str().trim().is_empty());
            match kind {
                TriggerKind::EventUpsert | TriggerKind::EventDeleted => {
                    let job = notification
                        .job
                        .as_ref()
                        .expect("an event notification makes a job");
                    let event = notification.event_id.clone().expect("an event id");
                    prop_assert_eq!(&job.record_key, &event);
                    prop_assert!(!event.as_str().trim().is_empty());
                    prop_assert_eq!(&job.grant_id, &grant);
                    if kind == TriggerKind::EventDeleted {
                        prop_assert_eq!(job.action, JobAction::Delete);
                        prop_assert!(job.payload.is_none());
                    } else {
                        prop_assert_eq!(job.action, JobAction::Upsert);
                        let payload = job.payload.as_ref().expect("an upsert has a payload");
                        let read: Value = payload.parse().expect("a payload is JSON");
                        prop_assert_eq!(Some(read), before.data.object, "the payload as before");
                    }
                    prop_assert!(notification.grant_change.is_none());
                }
                TriggerKind::Grant(_) => {
                    prop_assert!(notification.job.is_none());
                    prop_assert!(notification.grant_change.is_some());
                }
                TriggerKind::Unhandled => unreachable!(),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_envelope_json_is_stored_ignored_or_refused(json in envelope_json()) {
        check(serde_json::to_vec(&json).unwrap())?;
    }

    #[test]
    fn any_bytes_at_all_are_handled(body in prop::collection::vec(any::<u8>(), 0..512)) {
        check(body)?;
    }

    #[test]
    fn any_json_at_all_is_handled(json in json_with_keys(ENVELOPE_KEYS)) {
        check(serde_json::to_vec(&json).unwrap())?;
    }
}
