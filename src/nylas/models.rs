//! Lenient models of the Nylas v3 payloads calsync reads: the webhook envelope, events, calendars
//! and grants.
//!
//! Every field but an event's `id` is optional and read through [`super::lenient`]: unknown
//! fields are ignored, unknown enum values are kept as text, missing or mistyped fields are
//! `None`. Enum-like fields (`status`, `when.object`, participant `status`) stay strings here;
//! [`crate::mapping`] interprets them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient;

/// The CloudEvents envelope of a webhook notification.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// The notification id: unique per notification, the same on every delivery attempt.
    pub id: String,
    /// The trigger, e.g. `event.updated` or `event.updated.transformed`.
    #[serde(rename = "type")]
    pub trigger: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub specversion: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub source: Option<String>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "lenient::integer")]
    pub time: Option<i64>,
    #[serde(default, deserialize_with = "lenient::integer")]
    pub webhook_delivery_attempt: Option<i64>,
    pub data: EnvelopeData,
}

/// `data` of an envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct EnvelopeData {
    #[serde(default, deserialize_with = "lenient::string")]
    pub application_id: Option<String>,
    /// The notified object (an event, a grant, …), kept raw until the trigger says what it is.
    #[serde(default)]
    pub object: Option<Value>,
}

/// A calendar event (from a notification or the Events API).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Event {
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub grant_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub calendar_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub location: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub busy: Option<bool>,
    /// `confirmed | tentative | maybe | cancelled`, or anything else a provider sends.
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub visibility: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub read_only: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub html_link: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub ical_uid: Option<String>,
    /// RRULE/EXDATE lines (series masters only).
    #[serde(default, deserialize_with = "lenient::list")]
    pub recurrence: Vec<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub master_event_id: Option<String>,
    /// Unix seconds (occurrences).
    #[serde(default, deserialize_with = "lenient::integer")]
    pub original_start_time: Option<i64>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "lenient::integer")]
    pub created_at: Option<i64>,
    /// Unix seconds: the event's version.
    #[serde(default, deserialize_with = "lenient::integer")]
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "lenient::option")]
    pub when: Option<When>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub participants: Vec<Participant>,
    #[serde(default, deserialize_with = "lenient::option")]
    pub conferencing: Option<Conferencing>,
    #[serde(default, deserialize_with = "lenient::option")]
    pub organizer: Option<Person>,
    /// Rooms and equipment booked for the event (not people).
    #[serde(default, deserialize_with = "lenient::list")]
    pub resources: Vec<Person>,
    /// Google's kind of event: `default`, `outOfOffice`, `focusTime`, `workingLocation`, …
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_type: Option<String>,
}

/// `when`: one of four shapes, discriminated by `object` (which is sometimes missing).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct When {
    /// `time | timespan | date | datespan`, when present.
    #[serde(default, deserialize_with = "lenient::string")]
    pub object: Option<String>,
    /// `time`: Unix seconds.
    #[serde(default, deserialize_with = "lenient::integer")]
    pub time: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub timezone: Option<String>,
    /// `timespan`: Unix seconds.
    #[serde(default, deserialize_with = "lenient::integer")]
    pub start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient::integer")]
    pub end_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub start_timezone: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub end_timezone: Option<String>,
    /// `date`: `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub date: Option<String>,
    /// `datespan`: `YYYY-MM-DD`, end inclusive.
    #[serde(default, deserialize_with = "lenient::string")]
    pub start_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub end_date: Option<String>,
}

/// A participant. `email` may be missing (Microsoft), `status` absent (iCloud).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Participant {
    #[serde(default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// `yes | no | maybe | noreply`, or anything else.
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
}

/// An organizer, creator or booked resource.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Person {
    #[serde(default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
}

/// `conferencing`: `{provider, details: {url, …}}`, or `{}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Conferencing {
    /// `Google Meet`, `Zoom Meeting`, `Microsoft Teams`, …, or anything else.
    #[serde(default, deserialize_with = "lenient::string")]
    pub provider: Option<String>,
    #[serde(default, deserialize_with = "lenient::option")]
    pub details: Option<ConferencingDetails>,
}

/// `conferencing.details`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ConferencingDetails {
    #[serde(default, deserialize_with = "lenient::string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub meeting_code: Option<String>,
}

/// A calendar of a grant.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Calendar {
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub is_primary: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub read_only: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub is_owned_by_user: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub timezone: Option<String>,
}

/// A grant: one connected account.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Grant {
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub provider: Option<String>,
    /// `valid | invalid`, or anything else.
    #[serde(default, deserialize_with = "lenient::string")]
    pub grant_status: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
}

impl Grant {
    /// True when Nylas reports the grant usable.
    pub fn is_valid(&self) -> bool {
        self.grant_status.as_deref() == Some("valid")
    }
}
