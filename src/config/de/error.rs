//! Deserialization errors: the problem and the dotted key it is about.
//!
//! Invariant: a value of the wrong type is described by its type only, never by its text.

use std::fmt;

use serde::de::{self, Expected, Unexpected};

use crate::config::redact::shown;

/// What went wrong while deserializing one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::config) enum Problem {
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
pub(in crate::config) struct DeError {
    /// The dotted key, once known.
    pub key: Option<String>,
    pub problem: Problem,
}

impl DeError {
    /// An error about a key not known yet.
    pub fn new(problem: Problem) -> Self {
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
pub(in crate::config) fn quoted(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|name| format!("{name:?}")).collect();
    names.join(", ")
}

/// The dotted key of `key` in the table at `prefix`.
pub(in crate::config) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}
