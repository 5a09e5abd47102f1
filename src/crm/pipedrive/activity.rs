//! The meeting record as a Pipedrive API v2 activity body, and the event id marker in its note.
//!
//! Invariants:
//! - `due_date` and `due_time` are the date and time of the *same* UTC instant (the start);
//!   `duration` is `HH:MM` of the whole minutes from start to end (hours may exceed 23).
//! - All-day events have `due_date` only (no `due_time`, no `duration`). Pipedrive activities
//!   have one date, so a multi-day all-day event is due on its first day and the note says
//!   which days it spans.
//! - The note (HTML) always ends with the marker line `calsync-event-id: <id>`, the only way to
//!   recognise the activity if calsync's map is lost.
//! - Field names are the v2 ones (`location` is an object, `participants` and `attendees` are
//!   lists of objects): v2 ignores unknown fields silently, so a v1 name would be lost.
//! - Text fits Pipedrive's limits (`crm::limits`): subject and location cut, the note's
//!   description cut so the marker line always survives.
//! - A cancelled meeting stays (it is sales information): its subject is prefixed with
//!   [`CANCELLED_PREFIX`] and it no longer marks the owner busy.

use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

use crate::crm::contacts::normalize;
use crate::crm::limits::{PIPEDRIVE_NOTE, PIPEDRIVE_SHORT_TEXT, fit, fit_notes};
use crate::crm::vendor::html_text;
use crate::record::{MeetingRecord, MeetingStatus};

/// The start of the marker line in the note.
pub const MARKER: &str = "calsync-event-id:";

/// Prefix of a cancelled meeting's subject.
pub const CANCELLED_PREFIX: &str = "Cancelled: ";

/// The activity type calsync writes.
pub const ACTIVITY_TYPE: &str = "meeting";

/// A person linked to the activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Trimmed, lowercased.
    pub email: String,
    /// The person's Pipedrive id.
    pub id: i64,
}

/// The body of `POST /api/v2/activities` and `PATCH /api/v2/activities/{id}`. `persons` is
/// `None` when contact linking is off (then `participants` is left untouched).
pub fn activity_body(record: &MeetingRecord, persons: Option<&[Person]>) -> Value {
    let cancelled = record.meeting_status == MeetingStatus::Cancelled;
    let subject = if cancelled {
        format!("{CANCELLED_PREFIX}{}", record.meeting_subject)
    } else {
        record.meeting_subject.clone()
    };
    let start = record.meeting_date.to_zoned_datetime(TimeZone::UTC);
    let mut body = Map::new();
    body.insert("subject".into(), json!(fit(&subject, PIPEDRIVE_SHORT_TEXT)));
    body.insert("type".into(), json!(ACTIVITY_TYPE));
    body.insert(
        "due_date".into(),
        json!(start.date().strftime("%Y-%m-%d").to_string()),
    );
    if !record.all_day {
        body.insert(
            "due_time".into(),
            json!(start.time().strftime("%H:%M").to_string()),
        );
        if record.duration_minutes > 0 {
            body.insert(
                "duration".into(),
                json!(hours_minutes(record.duration_minutes)),
            );
        }
    }
    body.insert("busy".into(), json!(!cancelled));
    body.insert("done".into(), json!(false));
    if let Some(location) = record.meeting_location.as_deref().map(str::trim)
        && !location.is_empty()
    {
        let location = fit(location, PIPEDRIVE_SHORT_TEXT);
        body.insert("location".into(), json!({"value": location}));
    }
    body.insert("note".into(), json!(note(record)));
    body.insert(
        "attendees".into(),
        attendees(record, persons.unwrap_or_default()),
    );
    if let Some(persons) = persons {
        let participants: Vec<Value> = persons
            .iter()
            .enumerate()
            .map(|(index, person)| json!({"person_id": person.id, "primary": index == 0}))
            .collect();
        body.insert("participants".into(), Value::Array(participants));
    }
    Value::Object(body)
}

/// `HH:MM` of a number of minutes.
fn hours_minutes(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Every attendee with an email, with the person id when linked.
fn attendees(record: &MeetingRecord, persons: &[Person]) -> Value {
    let organizer = record.organizer_email.as_deref().map(normalize);
    let list: Vec<Value> = record
        .attendees
        .iter()
        .map(|attendee| {
            let email = normalize(&attendee.email);
            let mut entry = Map::new();
            if let Some(name) = attendee
                .name
                .as_deref()
                .filter(|name| !name.trim().is_empty())
            {
                entry.insert("name".into(), json!(name.trim()));
            }
            if organizer.as_deref() == Some(email.as_str()) {
                entry.insert("is_organizer".into(), json!(true));
            }
            if let Some(person) = persons.iter().find(|person| person.email == email) {
                entry.insert("person_id".into(), json!(person.id));
            }
            entry.insert("email".into(), json!(email));
            Value::Object(entry)
        })
        .collect();
    Value::Array(list)
}

/// The note: the description, the meeting link, the series, the days of a multi-day all-day
/// event, then the marker line; over-long notes are cut so the whole fits [`PIPEDRIVE_NOTE`].
fn note(record: &MeetingRecord) -> String {
    let notes = record.notes.as_deref().unwrap_or("");
    fit_notes(notes, PIPEDRIVE_NOTE, |notes| note_with(record, notes))
}

/// The note with `notes` as its description.
fn note_with(record: &MeetingRecord, notes: &str) -> String {
    let mut paragraphs: Vec<String> = Vec::new();
    let notes = html_text(notes);
    if !notes.is_empty() {
        paragraphs.push(notes);
    }
    if let Some(link) = record
        .meeting_link
        .as_deref()
        .map(str::trim)
        .filter(|link| !link.is_empty())
    {
        let link = html_text(link);
        paragraphs.push(format!("Meeting link: <a href=\"{link}\">{link}</a>"));
    }
    if let Some(series) = record.series_label.as_deref() {
        paragraphs.push(html_text(series));
    }
    let days = record.duration_minutes / (24 * 60);
    if record.all_day && days > 1 {
        let first = record.meeting_date.to_zoned_datetime(TimeZone::UTC).date();
        let last = record
            .meeting_end_date
            .to_zoned_datetime(TimeZone::UTC)
            .date()
            .yesterday()
            .unwrap_or(first);
        paragraphs.push(format!("All day, {first} to {last} ({days} days)"));
    }
    paragraphs.push(format!("{MARKER} {}", html_text(record.event_id.as_str())));
    paragraphs
        .iter()
        .map(|paragraph| format!("<p>{paragraph}</p>"))
        .collect()
}

/// True when `note` carries the marker line for `external_event_id`.
pub fn has_marker(note: &str, external_event_id: &str) -> bool {
    let wanted = html_text(external_event_id);
    note.match_indices(MARKER).any(|(at, _)| {
        let rest = note[at + MARKER.len()..].trim_start_matches([' ', '\u{a0}']);
        let rest = rest.strip_prefix("&nbsp;").unwrap_or(rest);
        let id: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '<' && *c != '"')
            .collect();
        id == wanted
    })
}

#[cfg(test)]
mod tests;
