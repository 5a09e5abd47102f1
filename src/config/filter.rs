//! `[filter]`: which events are worth a CRM record (relevance filters), and the patterns of
//! `skip_titles`, compiled once at load time.
//!
//! Invariants: a [`TitlePattern`] always holds a regular expression that compiled (an invalid
//! one is a load error naming `filter.skip_titles`); patterns serialize back to the text they
//! were written as, so the summary shows what the operator wrote.

use std::fmt;

use regex::Regex;
use serde::de::{Deserialize, Deserializer, Error};
use serde::ser::{Serialize, Serializer};

use super::redact::shown;

/// `[filter]`: every filter is off by default except `skip_event_types`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterSettings {
    /// `require_external_attendee`, default false: only meetings with at least one attendee
    /// outside `sync.internal_domains` and outside the domain of the grant's own address.
    pub require_external_attendee: bool,
    /// `skip_free`, default false: events that do not mark their owner busy (`busy = false`).
    pub skip_free: bool,
    /// `skip_declined`, default false: events the grant's owner declined.
    pub skip_declined: bool,
    /// `skip_all_day`, default false: `date` and `datespan` events.
    pub skip_all_day: bool,
    /// `skip_event_types`, default `["outOfOffice", "focusTime", "workingLocation"]`: Google
    /// event types that are not meetings (compared without case).
    pub skip_event_types: Vec<String>,
    /// `skip_titles`, default empty: regular expressions; an event whose title matches any is
    /// skipped.
    pub skip_titles: Vec<TitlePattern>,
}

/// One regular expression of `filter.skip_titles`.
#[derive(Clone)]
pub struct TitlePattern(Regex);

impl TitlePattern {
    /// Compiles `pattern`; the error says why it is not a regular expression.
    pub fn new(pattern: &str) -> Result<TitlePattern, regex::Error> {
        Regex::new(pattern).map(TitlePattern)
    }

    /// True when the pattern matches somewhere in `title`.
    pub fn matches(&self, title: &str) -> bool {
        self.0.is_match(title)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for TitlePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl<'de> Deserialize<'de> for TitlePattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let written = String::deserialize(deserializer)?;
        TitlePattern::new(&written).map_err(|error| {
            // The regex error is multi-line (it points at the column); keep its last line.
            let why = error.to_string();
            let why = why.lines().last().unwrap_or("invalid").trim().to_owned();
            let written = shown(&written);
            D::Error::custom(format!(
                "{written:?} is not a valid regular expression ({why})"
            ))
        })
    }
}

impl Serialize for TitlePattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
