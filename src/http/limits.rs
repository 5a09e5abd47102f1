//! Bounds on the identifiers a notification carries, checked at the edge before anything is
//! stored or logged: ids are keys, log fields and table cells downstream, and nothing Nylas
//! sends comes near the limit (its ids are tens of bytes, Microsoft's about 150).
//!
//! Invariant: a notification whose id, type, or object `id` / `grant_id` / `calendar_id` is
//! longer than [`MAX_ID_BYTES`] is refused (400, naming the field) and never reaches the store.

use crate::nylas::Envelope;

/// The longest accepted id (bytes of UTF-8).
pub const MAX_ID_BYTES: usize = 1024;

/// A field over the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} is {length} bytes long; the limit is {MAX_ID_BYTES} bytes")]
pub struct TooLong {
    /// The field's path in the envelope (`id`, `data.object.grant_id`, …).
    pub field: &'static str,
    /// Its length in bytes.
    pub length: usize,
}

/// Checks the envelope's ids: the first field over [`MAX_ID_BYTES`], if any.
pub fn check_ids(envelope: &Envelope) -> Result<(), TooLong> {
    within("id", &envelope.id)?;
    within("type", &envelope.trigger)?;
    let Some(object) = envelope.data.object.as_ref() else {
        return Ok(());
    };
    let summary = object.summary();
    for (field, value) in [
        ("data.object.id", &summary.id),
        ("data.object.grant_id", &summary.grant_id),
        ("data.object.calendar_id", &summary.calendar_id),
    ] {
        if let Some(value) = value {
            within(field, value)?;
        }
    }
    Ok(())
}

fn within(field: &'static str, value: &str) -> Result<(), TooLong> {
    if value.len() > MAX_ID_BYTES {
        return Err(TooLong {
            field,
            length: value.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn envelope(value: Value) -> Envelope {
        serde_json::from_value(value).unwrap()
    }

    fn with_object(object: Value) -> Envelope {
        envelope(json!({"id": "n1", "type": "event.created", "data": {"object": object}}))
    }

    #[test]
    fn ids_at_the_limit_pass_and_longer_ones_name_their_field() {
        let at_limit = "a".repeat(MAX_ID_BYTES);
        let over = "a".repeat(MAX_ID_BYTES + 1);
        let fine = with_object(json!({"id": at_limit, "grant_id": "g", "calendar_id": "c"}));
        assert_eq!(check_ids(&fine), Ok(()));
        for (key, field) in [
            ("id", "data.object.id"),
            ("grant_id", "data.object.grant_id"),
            ("calendar_id", "data.object.calendar_id"),
        ] {
            let mut object = json!({"id": "e", "grant_id": "g", "calendar_id": "c"});
            object[key] = json!(over);
            let error = check_ids(&with_object(object)).unwrap_err();
            assert_eq!((error.field, error.length), (field, MAX_ID_BYTES + 1));
        }
        let long_notification = envelope(json!({"id": over, "type": "event.created", "data": {}}));
        assert_eq!(check_ids(&long_notification).unwrap_err().field, "id");
        assert_eq!(
            check_ids(&long_notification).unwrap_err().to_string(),
            "id is 1025 bytes long; the limit is 1024 bytes"
        );
    }

    #[test]
    fn multibyte_ids_count_bytes() {
        let object = json!({"id": "é".repeat(MAX_ID_BYTES / 2 + 1), "grant_id": "g"});
        assert_eq!(
            check_ids(&with_object(object)).unwrap_err().field,
            "data.object.id"
        );
    }
}
