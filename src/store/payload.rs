//! A job's payload as JSON text: the event object a job carries, from the notification (or the
//! listing) that made it to the job row and back. A notification's object keeps the text it
//! arrived in (no tree is built at the edge and printed again); a listed event is printed once.
//! The worker parses the text when it runs the job.
//!
//! Invariants: the text is valid JSON (every constructor checks or produces it), and parsing it
//! reads what parsing it into a `serde_json::Value` first read (the payload was a `Value` until
//! issue 13): a repeated key counts by its last occurrence.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

/// A job's payload: JSON text, as stored in the `payload` column.
#[derive(Clone, PartialEq, Eq)]
pub struct PayloadText(Box<str>);

impl PayloadText {
    /// Prints `value` as the payload.
    pub fn to_json(value: &impl Serialize) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(|text| PayloadText(text.into_boxed_str()))
    }

    /// Checks stored text and takes it as the payload.
    pub fn from_text(text: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text).map(PayloadText::from)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads the payload as a `T`. Should the direct reading fail, the text is read as a
    /// `Value` and then as a `T`, which is what a repeated key needs (a derived struct refuses a
    /// repeated field; a `Value` keeps the last one); the first error stands if that fails too.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0).or_else(|error| {
            serde_json::from_str::<Value>(&self.0)
                .ok()
                .and_then(|value| T::deserialize(value).ok())
                .ok_or(error)
        })
    }
}

impl From<Box<RawValue>> for PayloadText {
    fn from(raw: Box<RawValue>) -> Self {
        PayloadText(raw.into())
    }
}

impl From<&Value> for PayloadText {
    fn from(value: &Value) -> Self {
        PayloadText(value.to_string().into_boxed_str())
    }
}

impl From<Value> for PayloadText {
    fn from(value: Value) -> Self {
        PayloadText::from(&value)
    }
}

impl fmt::Debug for PayloadText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PayloadText").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Named {
        id: String,
        #[serde(default)]
        title: Option<String>,
    }

    #[test]
    fn raw_text_is_kept_as_sent() {
        let raw = RawValue::from_string(r#"{ "id" : "e1",  "n": 1.50 }"#.to_string()).unwrap();
        let payload = PayloadText::from(raw);
        assert_eq!(payload.as_str(), r#"{ "id" : "e1",  "n": 1.50 }"#);
        let value: Value = payload.parse().unwrap();
        assert_eq!(value, json!({"id": "e1", "n": 1.5}));
    }

    #[test]
    fn values_and_serializable_things_print_once() {
        let value = json!({"id": "e1", "title": "Kick-off"});
        let payload = PayloadText::from(&value);
        assert_eq!(payload, PayloadText::from(value.clone()));
        assert_eq!(PayloadText::to_json(&value).unwrap(), payload);
        assert_eq!(payload.parse::<Value>().unwrap(), value);
    }

    #[test]
    fn stored_text_must_be_json() {
        assert!(PayloadText::from_text("{not json".into()).is_err());
        assert!(PayloadText::from_text(String::new()).is_err());
        let stored = PayloadText::from_text(r#"{"id":"e1"}"#.into()).unwrap();
        assert_eq!(stored.as_str(), r#"{"id":"e1"}"#);
    }

    #[test]
    fn a_repeated_key_counts_by_its_last_occurrence() {
        let payload =
            PayloadText::from_text(r#"{"id":"e1","title":"a","title":"b"}"#.into()).unwrap();
        assert!(serde_json::from_str::<Named>(payload.as_str()).is_err());
        assert_eq!(
            payload.parse::<Named>().unwrap(),
            Named {
                id: "e1".into(),
                title: Some("b".into())
            }
        );
    }

    #[test]
    fn a_payload_of_another_shape_keeps_the_first_error() {
        let payload = PayloadText::from_text(r#"{"title":"no id"}"#.into()).unwrap();
        let error = payload.parse::<Named>().unwrap_err();
        assert!(error.to_string().contains("missing field `id`"), "{error}");
    }
}
