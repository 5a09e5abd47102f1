//! A serde `Deserializer` over the merged configuration tree that knows where it is.
//!
//! Every value is deserialized through a [`Node`]: a TOML value and its dotted key. Errors
//! ([`DeError`]) carry the key of the innermost value that failed, so the loader can name the
//! key and look up the file or variable it came from.
//!
//! Environment variables only give text, so scalars are read leniently: a number, a boolean or
//! a list may be written as text (`"4"`, `"true"`, `"a,b"`: lists are comma-separated), and a
//! text key accepts a TOML number or boolean as its text.
//!
//! Invariants: no error message echoes a text value the deserializer did not parse itself (a
//! value of the wrong type is described by its type only, so a secret put under the wrong key
//! is never printed); the first key attached to an error is never replaced by an outer one.

mod access;
mod error;

use serde::de::{self, Deserializer, IntoDeserializer, Visitor};
use toml::Value;

use super::redact::shown;
use access::{Entries, Items};
pub(in crate::config) use error::{DeError, Problem, join, quoted};

/// One value of the tree and its dotted key.
pub(super) struct Node {
    value: Value,
    key: String,
}

impl Node {
    /// The value at `key`.
    pub fn new(value: Value, key: &str) -> Self {
        Node {
            value,
            key: key.to_owned(),
        }
    }

    fn type_error(&self, expected: &str) -> DeError {
        let found = match &self.value {
            Value::String(_) => "text",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date",
            Value::Array(_) => "a list",
            Value::Table(_) => "a table",
        };
        DeError::new(Problem::Invalid(format!(
            "expected {expected}, found {found}"
        )))
        .at(&self.key)
    }

    /// The scalar's text: a string as is, a number or boolean written out.
    fn text(&self) -> Option<String> {
        match &self.value {
            Value::String(text) => Some(text.clone()),
            Value::Integer(number) => Some(number.to_string()),
            Value::Float(number) => Some(number.to_string()),
            Value::Boolean(flag) => Some(flag.to_string()),
            Value::Datetime(date) => Some(date.to_string()),
            Value::Array(_) | Value::Table(_) => None,
        }
    }

    /// A whole number of type `T`, from an integer or its text.
    fn whole<T>(&self) -> Result<T, DeError>
    where
        T: std::str::FromStr + Bounded,
    {
        let text = match &self.value {
            Value::Integer(number) => number.to_string(),
            Value::Float(number) => number.to_string(),
            Value::String(text) => text.trim().to_owned(),
            _ => return Err(self.type_error("a whole number")),
        };
        text.parse().map_err(|_| {
            let range = T::RANGE;
            let text = shown(&text);
            <DeError as de::Error>::custom(format!(
                "invalid number {text:?}, expected a whole number {range}"
            ))
            .at(&self.key)
        })
    }

    fn finish<T>(&self, result: Result<T, DeError>) -> Result<T, DeError> {
        result.map_err(|error| error.at(&self.key))
    }
}

/// The range of an integer type, for messages.
trait Bounded {
    const RANGE: &'static str;
}

macro_rules! bounded {
    ($($ty:ty => $range:literal),* $(,)?) => {
        $(impl Bounded for $ty {
            const RANGE: &'static str = $range;
        })*
    };
}

bounded! {
    u8 => "from 0 to 255",
    u16 => "from 0 to 65535",
    u32 => "from 0 to 4294967295",
    u64 => "of at least 0",
    i8 => "from -128 to 127",
    i16 => "from -32768 to 32767",
    i32 => "from -2147483648 to 2147483647",
    i64 => "that fits in 64 bits",
}

macro_rules! whole_numbers {
    ($($method:ident => $ty:ty, $visit:ident;)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let number: $ty = self.whole()?;
            let result = visitor.$visit(number);
            self.finish(result)
        })*
    };
}

impl<'de> Deserializer<'de> for Node {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let key = self.key.clone();
        let result = match self.value {
            Value::String(text) => visitor.visit_string(text),
            Value::Integer(number) => visitor.visit_i64(number),
            Value::Float(number) => visitor.visit_f64(number),
            Value::Boolean(flag) => visitor.visit_bool(flag),
            Value::Datetime(date) => visitor.visit_string(date.to_string()),
            Value::Array(items) => visitor.visit_seq(Items::new(items, &key)),
            Value::Table(table) => visitor.visit_map(Entries::new(table, &key)),
        };
        result.map_err(|error| error.at(&key))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let flag = match &self.value {
            Value::Boolean(flag) => *flag,
            Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    let text = shown(text);
                    let problem = format!("invalid boolean {text:?}, expected true or false");
                    return Err(<DeError as de::Error>::custom(problem).at(&self.key));
                }
            },
            _ => return Err(self.type_error("true or false")),
        };
        let result = visitor.visit_bool(flag);
        self.finish(result)
    }

    whole_numbers! {
        deserialize_u8 => u8, visit_u8;
        deserialize_u16 => u16, visit_u16;
        deserialize_u32 => u32, visit_u32;
        deserialize_u64 => u64, visit_u64;
        deserialize_i8 => i8, visit_i8;
        deserialize_i16 => i16, visit_i16;
        deserialize_i32 => i32, visit_i32;
        deserialize_i64 => i64, visit_i64;
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let number = match &self.value {
            Value::Float(number) => *number,
            Value::Integer(number) => *number as f64,
            Value::String(text) => text.trim().parse().map_err(|_| {
                let text = shown(text);
                <DeError as de::Error>::custom(format!("invalid number {text:?}")).at(&self.key)
            })?,
            _ => return Err(self.type_error("a number")),
        };
        let result = visitor.visit_f64(number);
        self.finish(result)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let Some(text) = self.text() else {
            return Err(self.type_error("text"));
        };
        let result = visitor.visit_string(text);
        self.finish(result)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let key = self.key.clone();
        visitor.visit_some(self).map_err(|error| error.at(&key))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let key = self.key.clone();
        visitor
            .visit_newtype_struct(self)
            .map_err(|error| error.at(&key))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let key = self.key.clone();
        let items = match self.value {
            Value::Array(items) => items,
            // How environment variables spell lists: comma-separated, items trimmed, empty
            // items dropped (so an empty text is an empty list).
            Value::String(text) => text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
            _ => return Err(self.type_error("a list")),
        };
        let result = visitor.visit_seq(Items::new(items, &key));
        result.map_err(|error| error.at(&key))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let key = self.key.clone();
        let Value::Table(table) = self.value else {
            return Err(self.type_error("a table of keys"));
        };
        let result = visitor.visit_map(Entries::new(table, &key));
        result.map_err(|error| error.at(&key))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let Value::String(text) = &self.value else {
            return Err(self.type_error("text"));
        };
        let name: String = text.trim().to_owned();
        let result = visitor.visit_enum(name.into_deserializer());
        self.finish(result)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 bytes byte_buf unit_struct tuple tuple_struct identifier
    }
}
