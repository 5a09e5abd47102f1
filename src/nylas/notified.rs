//! The object a notification carries (`data.object`), kept as the exact JSON text it arrived in,
//! with the few fields intake reads (ids, `updated_at`, whether `when` is an object) summarized
//! beside it. An event's object thus reaches the job's payload without being built into a
//! `serde_json::Value` tree and printed again; the worker parses the text when it runs the job.
//!
//! Invariants:
//! - `raw` is the object's text as sent, byte for byte (any JSON value, not only an object).
//! - Reading an envelope accepts exactly the bodies it accepted when the object was parsed into a
//!   `Value`: the summary walks the whole object as `Value` parsing did (string escapes checked,
//!   numbers in range, the same nesting limit), keeping only what it needs. A body refused
//!   before is refused now.
//! - The summary reads as `Value` did: a repeated key counts by its last occurrence; a text field
//!   is a JSON string (as sent, untrimmed), `updated_at` an integer that fits `i64`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// How deep containers may nest inside the object: serde_json refuses a 128th level of nesting,
/// and the envelope and its `data` are two levels above the object.
const MAX_NESTING: usize = 125;

/// A notification's object: its raw text and the fields intake reads from it.
#[derive(Debug, Clone)]
pub struct NotifiedObject {
    raw: Box<RawValue>,
    summary: ObjectSummary,
}

impl NotifiedObject {
    /// The fields intake reads.
    pub fn summary(&self) -> &ObjectSummary {
        &self.summary
    }

    /// The object's JSON text as sent.
    pub fn raw(&self) -> &RawValue {
        &self.raw
    }

    /// The object's JSON text as sent, owned.
    pub fn into_raw(self) -> Box<RawValue> {
        self.raw
    }
}

impl<'de> Deserialize<'de> for NotifiedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let summary = serde_json::from_str(raw.get()).map_err(de::Error::custom)?;
        Ok(NotifiedObject { raw, summary })
    }
}

/// What intake needs of a notification's object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectSummary {
    /// The object is a JSON object (not null, an array, a string, …).
    pub is_object: bool,
    /// `id`, when it is a string.
    pub id: Option<String>,
    /// `grant_id`, when it is a string.
    pub grant_id: Option<String>,
    /// `calendar_id`, when it is a string.
    pub calendar_id: Option<String>,
    /// `updated_at` (Unix seconds), when it is an integer that fits `i64`.
    pub updated_at: Option<i64>,
    /// `when` is a JSON object.
    pub has_when: bool,
}

impl<'de> Deserialize<'de> for ObjectSummary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SummaryVisitor)
    }
}

struct SummaryVisitor;

impl<'de> Visitor<'de> for SummaryVisitor {
    type Value = ObjectSummary;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ObjectSummary, A::Error> {
        let mut summary = ObjectSummary {
            is_object: true,
            ..ObjectSummary::default()
        };
        let inside = Walk::nested(0)?;
        while let Some(key) = map.next_key::<Key>()? {
            let shape = match key {
                Key::Other => {
                    map.next_value_seed(inside)?;
                    continue;
                }
                _ => map.next_value_seed(Shaped(inside))?,
            };
            match key {
                Key::Id => summary.id = shape.into_text(),
                Key::GrantId => summary.grant_id = shape.into_text(),
                Key::CalendarId => summary.calendar_id = shape.into_text(),
                Key::UpdatedAt => summary.updated_at = shape.integer(),
                Key::When => summary.has_when = matches!(shape, Shape::Object),
                Key::Other => {}
            }
        }
        Ok(summary)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ObjectSummary, A::Error> {
        Walk(0).visit_seq(seq)?;
        Ok(ObjectSummary::default())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<ObjectSummary, E> {
        Ok(ObjectSummary::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<ObjectSummary, E> {
        Ok(ObjectSummary::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<ObjectSummary, E> {
        Ok(ObjectSummary::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<ObjectSummary, E> {
        Ok(ObjectSummary::default())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<ObjectSummary, E> {
        Ok(ObjectSummary::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<ObjectSummary, E> {
        Ok(ObjectSummary::default())
    }
}

/// The object keys intake reads.
enum Key {
    Id,
    GrantId,
    CalendarId,
    UpdatedAt,
    When,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match key {
            "id" => Key::Id,
            "grant_id" => Key::GrantId,
            "calendar_id" => Key::CalendarId,
            "updated_at" => Key::UpdatedAt,
            "when" => Key::When,
            _ => Key::Other,
        })
    }
}

/// The shape of a value intake reads.
enum Shape {
    Text(String),
    Integer(i64),
    Object,
    Other,
}

impl Shape {
    fn into_text(self) -> Option<String> {
        match self {
            Shape::Text(text) => Some(text),
            _ => None,
        }
    }

    fn integer(&self) -> Option<i64> {
        match self {
            Shape::Integer(value) => Some(*value),
            _ => None,
        }
    }
}

/// Reads a value's [`Shape`] (walking what it does not keep), at the nesting of a [`Walk`].
#[derive(Clone, Copy)]
struct Shaped(Walk);

impl<'de> DeserializeSeed<'de> for Shaped {
    type Value = Shape;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Shaped {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Shape, E> {
        Ok(Shape::Text(text.to_string()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Shape, E> {
        Ok(Shape::Text(text))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Shape, E> {
        Ok(Shape::Integer(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Shape, E> {
        Ok(i64::try_from(value).map_or(Shape::Other, Shape::Integer))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Shape, A::Error> {
        self.0.visit_seq(seq)?;
        Ok(Shape::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shape, A::Error> {
        self.0.visit_map(map)?;
        Ok(Shape::Object)
    }
}

/// Walks any JSON value as parsing it into a `Value` would, keeping nothing; the number is how
/// many containers enclose the value (the object itself is the first).
#[derive(Clone, Copy)]
struct Walk(usize);

impl Walk {
    /// The walk inside a container enclosed by `enclosing` containers; an error past the limit.
    fn nested<E: de::Error>(enclosing: usize) -> Result<Walk, E> {
        let nesting = enclosing + 1;
        if nesting > MAX_NESTING {
            return Err(E::custom("recursion limit exceeded"));
        }
        Ok(Walk(nesting))
    }
}

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inside = Walk::nested(self.0)?;
        while seq.next_element_seed(inside)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inside = Walk::nested(self.0)?;
        while map.next_key_seed(inside)?.is_some() {
            map.next_value_seed(inside)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
