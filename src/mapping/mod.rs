//! The pure mapping from a Nylas event to the CRM meeting record (`architecture.md`, "The CRM
//! record").
//!
//! Pure: no I/O, no clock, no configuration; the same event always gives the same record, so the
//! record's content hash is a faithful change detector. The mapping tolerates every quirk the
//! lenient models let through (missing titles, participants without email or status, empty or
//! unknown conferencing, odd time zone names) and fails only when the event has no usable time
//! ([`MappingError`]). Invariants of the output:
//! - optional fields are `None` when absent or blank, never `""`;
//! - the subject is the trimmed title, or `"Untitled meeting"`;
//! - attendees all have a trimmed, lowercased email, each email at most once (first wins);
//! - times are UTC; all-day events span whole UTC days, `datespan` ends inclusive.

mod html;
#[cfg(test)]
mod tests;
mod when;

pub use html::html_to_text;

use std::collections::HashSet;

use jiff::Timestamp;

use crate::ids::{EventId, GrantId};
use crate::nylas::models::{Event, Participant};
use crate::record::{Attendee, MeetingRecord, MeetingStatus, RsvpStatus};

/// The subject used when an event has no title.
pub const UNTITLED: &str = "Untitled meeting";

/// Why an event cannot be mapped to a record. All variants are permanent for that event version.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The event id is empty: there is no key to write under.
    #[error("the event has an empty id")]
    MissingId,
    /// No `when`, or one whose kind cannot be told from `object` nor from its keys.
    #[error("the event has no usable `when`")]
    MissingWhen,
    /// `when` of a known kind lacks a field that kind requires.
    #[error("`when` of kind `{kind}` has no `{field}`")]
    IncompleteWhen {
        /// The `when.object` kind.
        kind: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// A `date`/`datespan` field is not a valid `YYYY-MM-DD` date (or is out of range).
    #[error("`when.{field}` is not a valid YYYY-MM-DD date: {value:?}")]
    InvalidDate {
        /// The field.
        field: &'static str,
        /// Its value, as sent.
        value: String,
        /// Why it does not parse.
        #[source]
        source: jiff::Error,
    },
    /// A Unix-seconds field is outside the representable time range.
    #[error("`{field}` is not a valid Unix time: {value}")]
    InvalidTimestamp {
        /// The field.
        field: &'static str,
        /// Its value.
        value: i64,
        /// Why it is out of range.
        #[source]
        source: jiff::Error,
    },
    /// The event ends before it starts.
    #[error("the event ends ({end}) before it starts ({start})")]
    EndBeforeStart {
        /// The start, as interpreted.
        start: String,
        /// The end, as interpreted.
        end: String,
    },
}

/// Maps an event to its meeting record. `fallback_grant_id` is used when the event does not
/// carry its own `grant_id` (it is the grant the event was read through).
pub fn map_event(event: &Event, fallback_grant_id: &str) -> Result<MeetingRecord, MappingError> {
    if event.id.trim().is_empty() {
        return Err(MappingError::MissingId);
    }
    let schedule = when::schedule(event.when.as_ref())?;
    let subject = non_blank(event.title.as_deref()).unwrap_or_else(|| UNTITLED.to_owned());
    let master_event_id = non_blank(event.master_event_id.as_deref());
    let has_rule = event.recurrence.iter().any(|line| !line.trim().is_empty());
    let source_updated_at = event
        .updated_at
        .map(|seconds| {
            Timestamp::from_second(seconds).map_err(|source| MappingError::InvalidTimestamp {
                field: "updated_at",
                value: seconds,
                source,
            })
        })
        .transpose()?;
    Ok(MeetingRecord {
        event_id: EventId::new(event.id.as_str()),
        grant_id: GrantId::new(
            non_blank(event.grant_id.as_deref()).unwrap_or_else(|| fallback_grant_id.to_owned()),
        ),
        provider_calendar_id: non_blank(event.calendar_id.as_deref()),
        meeting_status: meeting_status(event.status.as_deref()),
        duration_minutes: schedule.duration_minutes(),
        meeting_date: schedule.start,
        meeting_end_date: schedule.end,
        all_day: schedule.all_day,
        timezone: schedule.timezone,
        meeting_location: non_blank(event.location.as_deref()),
        meeting_link: meeting_link(event),
        notes: event
            .description
            .as_deref()
            .map(html_to_text)
            .filter(|text| !text.trim().is_empty()),
        organizer_email: event
            .organizer
            .as_ref()
            .and_then(|organizer| email(organizer.email.as_deref())),
        attendees: attendees(&event.participants),
        is_recurring: master_event_id.is_some() || has_rule,
        series_label: master_event_id
            .as_ref()
            .map(|_| format!("Series: {subject}")),
        master_event_id,
        meeting_subject: subject,
        ical_uid: non_blank(event.ical_uid.as_deref()),
        source_updated_at,
        private: false,
        owner_email: None,
    })
}

/// `confirmed`, `tentative`/`maybe`, `cancelled`/`canceled`; anything else is confirmed.
fn meeting_status(status: Option<&str>) -> MeetingStatus {
    match status
        .map(|status| status.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("tentative" | "maybe") => MeetingStatus::Tentative,
        Some("cancelled" | "canceled") => MeetingStatus::Cancelled,
        _ => MeetingStatus::Confirmed,
    }
}

/// `yes`, `no`, `maybe`/`tentative`, `noreply`; missing or anything else is `noreply`.
fn rsvp_status(status: Option<&str>) -> RsvpStatus {
    match status
        .map(|status| status.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("yes") => RsvpStatus::Yes,
        Some("no") => RsvpStatus::No,
        Some("maybe" | "tentative") => RsvpStatus::Maybe,
        _ => RsvpStatus::Noreply,
    }
}

/// Participants with an email, normalised and deduplicated by email (first wins).
fn attendees(participants: &[Participant]) -> Vec<Attendee> {
    let mut seen = HashSet::with_capacity(participants.len());
    let mut out = Vec::with_capacity(participants.len());
    for participant in participants {
        let Some(email) = email(participant.email.as_deref()) else {
            continue;
        };
        if !seen.insert(email.clone()) {
            continue;
        }
        out.push(Attendee {
            email,
            name: non_blank(participant.name.as_deref()),
            rsvp_status: rsvp_status(participant.status.as_deref()),
        });
    }
    out
}

/// The conferencing URL, whatever the provider; `None` for `{}` or missing details.
fn meeting_link(event: &Event) -> Option<String> {
    let details = event.conferencing.as_ref()?.details.as_ref()?;
    non_blank(details.url.as_deref())
}

/// An email trimmed and lowercased; `None` when blank.
fn email(raw: Option<&str>) -> Option<String> {
    non_blank(raw).map(|email| email.to_lowercase())
}

/// The trimmed text; `None` when missing or blank.
fn non_blank(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}
