//! Lenient serde helpers for provider payloads.
//!
//! Real Nylas payloads vary by provider: fields go missing, turn `null`, or arrive with another
//! type (a number as a string). These deserializers never fail: a value that does not fit becomes
//! `None` (or an empty list), so one odd field cannot make a whole event unreadable.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Any `T`, or `None` when the value is missing, null or does not fit `T`.
pub fn option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    if value.is_null() {
        return Ok(None);
    }
    Ok(serde_json::from_value(value).ok())
}

/// A non-empty string (numbers and booleans are rendered as text); `None` for null, empty or
/// whitespace-only values, objects and arrays.
pub fn string<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    Ok(match value {
        Value::String(text) if !text.trim().is_empty() => Some(text),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    })
}

/// An integer (Unix seconds and the like) from a number, a float, or a numeric string.
pub fn integer<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    Ok(match value {
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().map(|float| float as i64)),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    })
}

/// A boolean from `true`/`false` or the strings `"true"`/`"false"`.
pub fn boolean<'de, D>(deserializer: D) -> Result<Option<bool>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    Ok(match value {
        Value::Bool(flag) => Some(flag),
        Value::String(text) => text.trim().parse::<bool>().ok(),
        _ => None,
    })
}

/// A list of `T`, skipping elements that do not fit; empty when missing, null or not a list.
pub fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(match value {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "super::string")]
        text: Option<String>,
        #[serde(default, deserialize_with = "super::integer")]
        number: Option<i64>,
        #[serde(default, deserialize_with = "super::boolean")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "super::list")]
        items: Vec<u8>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn odd_values_become_none_instead_of_errors() {
        let odd = probe(r#"{"text": {"a": 1}, "number": "x", "flag": 3, "items": "nope"}"#);
        assert_eq!(odd.text, None);
        assert_eq!(odd.number, None);
        assert_eq!(odd.flag, None);
        assert!(odd.items.is_empty());

        let empty = probe("{}");
        assert_eq!(empty.text, None);
        assert!(empty.items.is_empty());
    }

    #[test]
    fn near_misses_are_converted() {
        let near =
            probe(r#"{"text": 42, "number": "1717162394", "flag": "true", "items": [1, "x", 3]}"#);
        assert_eq!(near.text.as_deref(), Some("42"));
        assert_eq!(near.number, Some(1_717_162_394));
        assert_eq!(near.flag, Some(true));
        assert_eq!(near.items, vec![1, 3]);
        assert_eq!(probe(r#"{"text": "  "}"#).text, None);
        assert_eq!(probe(r#"{"number": 1.5e9}"#).number, Some(1_500_000_000));
    }
}
