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

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, Expected, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, Visitor,
};
use toml::Value;

use super::redact::shown;

/// What went wrong while deserializing one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Problem {
    /// The value cannot be used; the text says why.
    Invalid(String),
    /// A required key of the table is not set.
    Missing(&'static str),
    /// A key the table does not have.
    Unknown,
}

/// A deserialization error: the problem and the dotted key it is about (the table's key for
/// [`Problem::Missing`], whose field names the missing key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeError {
    /// The dotted key, once known.
    pub key: Option<String>,
    pub problem: Problem,
}

impl DeError {
    fn new(problem: Problem) -> Self {
        DeError { key: None, problem }
    }

    /// The error, about `key` unless an inner key is already known.
    pub fn at(mut self, key: &str) -> Self {
        if self.key.is_none() {
            self.key = Some(key.to_owned());
        }
        self
    }

    /// The key the error is about: for a missing key, the key under its table.
    pub fn full_key(&self) -> String {
        let key = self.key.clone().unwrap_or_default();
        match self.problem {
            Problem::Missing(field) => join(&key, field),
            _ => key,
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Invalid(text) => f.write_str(text),
            Problem::Missing(_) => f.write_str("missing"),
            Problem::Unknown => f.write_str("unknown key"),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        DeError::new(Problem::Invalid(message.to_string()))
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        let found = describe(&unexpected);
        DeError::new(Problem::Invalid(format!(
            "expected {expected}, found {found}"
        )))
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        let found = describe(&unexpected);
        DeError::new(Problem::Invalid(format!(
            "invalid value ({found}), expected {expected}"
        )))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let names = quoted(expected);
        let variant = shown(variant);
        DeError::new(Problem::Invalid(format!(
            "invalid value {variant:?}, expected one of {names}"
        )))
    }

    fn unknown_field(_field: &str, _expected: &'static [&'static str]) -> Self {
        DeError::new(Problem::Unknown)
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(Problem::Missing(field))
    }
}

/// A value's type, never its text (which could be a secret).
fn describe(unexpected: &Unexpected<'_>) -> String {
    match unexpected {
        Unexpected::Str(_) | Unexpected::Char(_) => "text".to_owned(),
        Unexpected::Map => "a table".to_owned(),
        Unexpected::Seq => "a list".to_owned(),
        other => other.to_string(),
    }
}

/// `"a", "b"`.
pub(super) fn quoted(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|name| format!("{name:?}")).collect();
    names.join(", ")
}

/// The dotted key of `key` in the table at `prefix`.
pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

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

/// The items of a list, each with its key (`nylas.webhook_secrets[1]`).
struct Items {
    items: std::iter::Enumerate<std::vec::IntoIter<Value>>,
    key: String,
}

impl Items {
    fn new(items: Vec<Value>, key: &str) -> Self {
        Items {
            items: items.into_iter().enumerate(),
            key: key.to_owned(),
        }
    }
}

impl<'de> SeqAccess<'de> for Items {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((index, value)) = self.items.next() else {
            return Ok(None);
        };
        let key = format!("{}[{index}]", self.key);
        seed.deserialize(Node::new(value, &key))
            .map(Some)
            .map_err(|error| error.at(&key))
    }
}

/// The entries of a table, in key order, each value with its dotted key.
struct Entries {
    entries: std::collections::btree_map::IntoIter<String, Value>,
    key: String,
    next: Option<(String, Value)>,
}

impl Entries {
    fn new(table: toml::Table, key: &str) -> Self {
        let entries: std::collections::BTreeMap<String, Value> = table.into_iter().collect();
        Entries {
            entries: entries.into_iter(),
            key: key.to_owned(),
            next: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((name, value)) = self.entries.next() else {
            return Ok(None);
        };
        let key = join(&self.key, &name);
        let result = seed.deserialize(name.clone().into_deserializer());
        self.next = Some((key.clone(), value));
        result.map(Some).map_err(|error: DeError| error.at(&key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.next.take() else {
            return Err(<DeError as de::Error>::custom(
                "a value was read before its key",
            ));
        };
        seed.deserialize(Node::new(value, &key))
            .map_err(|error| error.at(&key))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        count: u32,
        flag: bool,
        names: Vec<String>,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        level: u8,
    }

    fn read(text: &str) -> Result<Sample, DeError> {
        let table: toml::Table = toml::from_str(text).unwrap();
        Sample::deserialize(Node::new(Value::Table(table), "sample"))
    }

    #[test]
    fn scalars_may_be_written_as_text() {
        let sample =
            read("count = \"4\"\nflag = \"TRUE\"\nnames = \"a, b,,c\"\n[inner]\nlevel = \" 7 \"\n")
                .unwrap();
        assert_eq!(sample.count, 4);
        assert!(sample.flag);
        assert_eq!(sample.names, ["a", "b", "c"]);
        assert_eq!(sample.inner.level, 7);
    }

    #[test]
    fn errors_name_the_innermost_key() {
        let error = read("count = 1\nflag = true\nnames = []\n[inner]\nlevel = 300\n").unwrap_err();
        assert_eq!(error.full_key(), "sample.inner.level");
        assert_eq!(
            error.to_string(),
            "invalid number \"300\", expected a whole number from 0 to 255"
        );

        let error =
            read("count = 1\nflag = true\nnames = [1, {}]\n[inner]\nlevel = 3\n").unwrap_err();
        assert_eq!(error.full_key(), "sample.names[1]");
        assert_eq!(error.to_string(), "expected text, found a table");
    }

    #[test]
    fn missing_and_unknown_keys() {
        let error = read("count = 1\nflag = true\nnames = []\n").unwrap_err();
        assert_eq!(error.problem, Problem::Missing("inner"));
        assert_eq!(error.full_key(), "sample.inner");

        let error = read("count = 1\nflg = true\n").unwrap_err();
        assert_eq!(error.problem, Problem::Unknown);
        assert_eq!(error.full_key(), "sample.flg");
    }

    #[test]
    fn wrong_types_never_echo_text() {
        let error = read("count = 1\nflag = true\nnames = []\ninner = \"s3cret\"\n").unwrap_err();
        assert_eq!(error.full_key(), "sample.inner");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
