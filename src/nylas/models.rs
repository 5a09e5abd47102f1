//! Lenient models of the Nylas v3 payloads calsync reads: the webhook envelope, events, calendars
//! and grants.
//!
//! Every field but an event's `id` is optional and read through [`super::lenient`]: unknown
//! fields are ignored, unknown enum values are kept as text, missing or mistyped fields are
//! `None`. Enum-like fields (`status`, `when.object`, participant `status`) stay strings here;
//! [`crate::mapping`] interprets them.

use serde::{Deserialize, Serialize};

use super::lenient;
use super::notified::NotifiedObject;

/// The CloudEvents envelope of a webhook notification.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// The notification id: unique per notification, the same on every delivery attempt.
    pub id: String,
    /// The trigger, e.g. `event.updated` or `event.updated.transformed`.
    #[serde(rename = "type")]
    pub trigger: String,
    /// The CloudEvents spec version (`1.0`).
    #[serde(default, deserialize_with = "lenient::string")]
    pub specversion: Option<String>,
    /// Where the notification comes from (`/google/events/realtime`, …).
    #[serde(default, deserialize_with = "lenient::string")]
    pub source: Option<String>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "lenient::integer")]
    pub time: Option<i64>,
    /// Which delivery attempt this is (1 for the first).
    #[serde(default, deserialize_with = "lenient::integer")]
    pub webhook_delivery_attempt: Option<i64>,
    /// The payload.
    pub data: EnvelopeData,
}

/// `data` of an envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct EnvelopeData {
    /// The Nylas application the notification belongs to.
    #[serde(default, deserialize_with = "lenient::string")]
    pub application_id: Option<String>,
    /// The notified object (an event, a grant, …): its JSON text as sent, and the few fields
    /// intake reads from it.
    #[serde(default)]
    pub object: Option<NotifiedObject>,
}

/// A calendar event (from a notification or the Events API).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Event {
    /// The event id (unique within its grant; Google reuses it across grants for one meeting).
    pub id: String,
    /// The grant (connected account) whose calendar holds the event.
    #[serde(default, deserialize_with = "lenient::string")]
    pub grant_id: Option<String>,
    /// The calendar holding the event.
    #[serde(default, deserialize_with = "lenient::string")]
    pub calendar_id: Option<String>,
    /// The title.
    #[serde(default, deserialize_with = "lenient::string")]
    pub title: Option<String>,
    /// The description: HTML or plain text, as the provider sent it.
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: Option<String>,
    /// The location, as typed.
    #[serde(default, deserialize_with = "lenient::string")]
    pub location: Option<String>,
    /// Whether the event shows the owner as busy.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub busy: Option<bool>,
    /// `confirmed | tentative | maybe | cancelled`, or anything else a provider sends.
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
    /// `public | private`, or anything else.
    #[serde(default, deserialize_with = "lenient::string")]
    pub visibility: Option<String>,
    /// Whether the grant may not edit the event.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub read_only: Option<bool>,
    /// The event's page at the provider.
    #[serde(default, deserialize_with = "lenient::string")]
    pub html_link: Option<String>,
    /// The iCalendar UID: the same for every attendee's copy of a meeting.
    #[serde(default, deserialize_with = "lenient::string")]
    pub ical_uid: Option<String>,
    /// RRULE/EXDATE lines (series masters only).
    #[serde(default, deserialize_with = "lenient::list")]
    pub recurrence: Vec<String>,
    /// The series master's id (occurrences only).
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
    /// When the event happens.
    #[serde(default, deserialize_with = "lenient::option")]
    pub when: Option<When>,
    /// The attendees.
    #[serde(default, deserialize_with = "lenient::list")]
    pub participants: Vec<Participant>,
    /// The conferencing link, when there is one.
    #[serde(default, deserialize_with = "lenient::option")]
    pub conferencing: Option<Conferencing>,
    /// The organizer.
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
    /// `time`: the IANA time zone.
    #[serde(default, deserialize_with = "lenient::string")]
    pub timezone: Option<String>,
    /// `timespan`: Unix seconds.
    #[serde(default, deserialize_with = "lenient::integer")]
    pub start_time: Option<i64>,
    /// `timespan`: Unix seconds.
    #[serde(default, deserialize_with = "lenient::integer")]
    pub end_time: Option<i64>,
    /// `timespan`: the IANA time zone of the start.
    #[serde(default, deserialize_with = "lenient::string")]
    pub start_timezone: Option<String>,
    /// `timespan`: the IANA time zone of the end.
    #[serde(default, deserialize_with = "lenient::string")]
    pub end_timezone: Option<String>,
    /// `date`: `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub date: Option<String>,
    /// `datespan`: `YYYY-MM-DD`, end inclusive.
    #[serde(default, deserialize_with = "lenient::string")]
    pub start_date: Option<String>,
    /// `datespan`: `YYYY-MM-DD`, inclusive.
    #[serde(default, deserialize_with = "lenient::string")]
    pub end_date: Option<String>,
}

/// A participant. `email` may be missing (Microsoft), `status` absent (iCloud).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Participant {
    /// The address, when the provider gives one.
    #[serde(default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
    /// The display name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// `yes | no | maybe | noreply`, or anything else.
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
}

/// An organizer, creator or booked resource.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Person {
    /// The address.
    #[serde(default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
    /// The display name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
}

/// `conferencing`: `{provider, details: {url, …}}`, or `{}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Conferencing {
    /// `Google Meet`, `Zoom Meeting`, `Microsoft Teams`, …, or anything else.
    #[serde(default, deserialize_with = "lenient::string")]
    pub provider: Option<String>,
    /// Where and how to join.
    #[serde(default, deserialize_with = "lenient::option")]
    pub details: Option<ConferencingDetails>,
}

/// `conferencing.details`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ConferencingDetails {
    /// The link to join.
    #[serde(default, deserialize_with = "lenient::string")]
    pub url: Option<String>,
    /// The meeting code, for dialling in or typing.
    #[serde(default, deserialize_with = "lenient::string")]
    pub meeting_code: Option<String>,
}

/// A calendar of a grant.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Calendar {
    /// The calendar id.
    pub id: String,
    /// The calendar's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// Whether it is the grant's primary calendar.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub is_primary: Option<bool>,
    /// Whether the grant may not write to it.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub read_only: Option<bool>,
    /// Whether the grant owns it (rather than subscribing to someone else's).
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub is_owned_by_user: Option<bool>,
    /// The IANA time zone.
    #[serde(default, deserialize_with = "lenient::string")]
    pub timezone: Option<String>,
}

/// A grant: one connected account.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Grant {
    /// The grant id.
    pub id: String,
    /// `google`, `microsoft`, `icloud`, …
    #[serde(default, deserialize_with = "lenient::string")]
    pub provider: Option<String>,
    /// `valid | invalid`, or anything else.
    #[serde(default, deserialize_with = "lenient::string")]
    pub grant_status: Option<String>,
    /// The account's email address.
    #[serde(default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
}

impl Grant {
    /// True when Nylas reports the grant usable.
    pub fn is_valid(&self) -> bool {
        self.grant_status.as_deref() == Some("valid")
    }
}
