//! The summary read beside the raw text agrees with what reading the object as a
//! `serde_json::Value` gave, and an envelope is accepted exactly when it was before.

use serde_json::Value;

use super::*;
use crate::nylas::Envelope;

/// What intake read of the object when it was a `Value` (the rules the summary keeps).
fn as_value_read_it(object: &Value) -> ObjectSummary {
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_string);
    ObjectSummary {
        is_object: object.is_object(),
        id: text("id"),
        grant_id: text("grant_id"),
        calendar_id: text("calendar_id"),
        updated_at: object.get("updated_at").and_then(Value::as_i64),
        has_when: object.get("when").is_some_and(Value::is_object),
    }
}

fn body_with(object: &str) -> String {
    format!(r#"{{"id":"n1","type":"event.updated","data":{{"object":{object}}}}}"#)
}

/// The envelope as it was read before: the object parsed into a `Value`.
#[derive(serde::Deserialize)]
struct ValueEnvelope {
    #[allow(dead_code)]
    id: String,
    data: ValueData,
}

#[derive(serde::Deserialize)]
struct ValueData {
    #[serde(default)]
    object: Option<Value>,
}

#[test]
fn the_object_is_kept_as_sent_and_its_fields_are_read() {
    let object = r#"{ "id" : " e1 ", "grant_id":"g1","calendar_id":"c\u0031",
        "updated_at": 1700000000, "when": {"object": "time", "time": 1.50},
        "title": "Caf\u00e9" }"#;
    let envelope: Envelope = serde_json::from_str(&body_with(object)).unwrap();
    let notified = envelope.data.object.unwrap();
    assert_eq!(notified.raw().get(), object);
    assert_eq!(
        notified.summary(),
        &ObjectSummary {
            is_object: true,
            id: Some(" e1 ".into()),
            grant_id: Some("g1".into()),
            calendar_id: Some("c1".into()),
            updated_at: Some(1_700_000_000),
            has_when: true,
        }
    );
    assert_eq!(notified.into_raw().get(), object);
}

#[test]
fn the_summary_reads_as_a_value_did() {
    let objects = [
        r#"{"id":"a","id":"b","grant_id":"g","grant_id":7}"#,
        r#"{"id":1,"grant_id":null,"calendar_id":["c"],"when":"today"}"#,
        r#"{"updated_at":-5,"when":{}}"#,
        r#"{"updated_at":9223372036854775807}"#,
        r#"{"updated_at":9223372036854775808}"#,
        r#"{"updated_at":1.0}"#,
        r#"{"updated_at":-0}"#,
        r#"{"updated_at":"1700000000","when":[{}]}"#,
        r#"{"when":{"object":"time"},"when":null}"#,
        r#"{"nested":{"id":"inner","when":{}},"list":[{"id":"x"}]}"#,
        r#"{"gr\u0061nt_id":"escaped key","\u0069d":"e"}"#,
        r#"{}"#,
        r#"[{"id":"e"}]"#,
        r#""an object""#,
        "17",
        "true",
        "null",
    ];
    for object in objects {
        let value: Value = serde_json::from_str(object).unwrap();
        let summary: ObjectSummary = serde_json::from_str(object).unwrap();
        assert_eq!(summary, as_value_read_it(&value), "{object}");
    }
}

#[test]
fn envelopes_are_accepted_exactly_when_they_were() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let mut objects: Vec<String> = [
        r#"{"id":"e","title":"\ud800"}"#,
        r#"{"id":"e","title":"\ud83d\ude00"}"#,
        r#"{"id":"e","title":"\x"}"#,
        r#"{"id":"e","updated_at":1e400}"#,
        r#"{"id":"e","updated_at":1e300}"#,
        r#"{"id":"e","list":[1,2,]}"#,
        r#"{"id":"e" "grant_id":"g"}"#,
        r#"{"\ud800":1}"#,
        r#"{"id":"e"}"#,
        "null",
    ]
    .map(str::to_string)
    .to_vec();
    for depth in [1, 100, 124, 125, 126, 127, 128, 200] {
        objects.push(nested(depth));
        objects.push(format!(r#"{{"id":"e","when":{}}}"#, nested(depth - 1)));
    }
    let mut refused = 0;
    for object in &objects {
        let body = body_with(object);
        let before = serde_json::from_str::<ValueEnvelope>(&body);
        let now = serde_json::from_str::<Envelope>(&body);
        assert_eq!(now.is_ok(), before.is_ok(), "{object}");
        if let (Ok(before), Ok(now)) = (before, now) {
            let summary = now.data.object.map(|o| o.summary().clone());
            assert_eq!(summary, before.data.object.as_ref().map(as_value_read_it));
        } else {
            refused += 1;
        }
    }
    assert!(refused >= 8, "the cases include refused bodies ({refused})");
}
