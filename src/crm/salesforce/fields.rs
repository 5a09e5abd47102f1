//! The Event fields calsync writes, mapped from a [`MeetingRecord`].
//!
//! Invariants:
//! - Every mapped field is sent on every write, `null` when empty, so an upsert makes the Event
//!   match the record (a removed location is cleared). The external id is never in the body: it
//!   is the upsert key in the URL.
//! - Text fits its field: `Subject` and `Location` at most 255 characters, `Description` at most
//!   32,000, counted as Salesforce counts (UTF-16 code units) and cut on a character boundary
//!   with a trailing `…`.
//! - Times are UTC (`2026-07-01T10:00:00Z`). A timed event sends `IsAllDayEvent: false`,
//!   `StartDateTime` and `EndDateTime` (Salesforce derives `DurationInMinutes` and the date).
//!   An all-day event sends `IsAllDayEvent: true`, `ActivityDate` (its first day) and
//!   `StartDateTime`/`EndDateTime` at 00:00Z of its first and *last* day: Salesforce's all-day
//!   end is inclusive, while the record's end is the midnight after the last day.
//! - No event lasts more than [`MAX_EVENT_DAYS`] days (Salesforce refuses longer events): a
//!   longer one ends after 14 days and its Description says when it really ends.
//! - Event has no status: a cancelled meeting keeps its record, its `Subject` starts with
//!   [`CANCELLED_PREFIX`], it shows as `Free`, and its Description says it was cancelled.
//! - `IsPrivate` follows the record (true for a redacted private meeting), sent on every write.
//! - Links: `WhoId` is the first contact, else the lead, else `null`; with Shared Activities,
//!   `EventWhoIds` is the full current list (up to 50 contacts, or the one lead, or empty), so a
//!   removed attendee's link is removed. Nothing about links is sent when linking is off.

use std::borrow::Cow;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use crate::record::{MeetingRecord, MeetingStatus};

/// `Subject` length.
pub const SUBJECT_MAX: usize = 255;
/// `Description` length.
pub const DESCRIPTION_MAX: usize = 32_000;
/// `Location` length.
pub const LOCATION_MAX: usize = 255;
/// The longest event Salesforce accepts, in days.
pub const MAX_EVENT_DAYS: i64 = 14;
/// Starts the `Subject` of a cancelled meeting.
pub const CANCELLED_PREFIX: &str = "Cancelled: ";
/// The most contacts `EventWhoIds` takes.
pub const MAX_EVENT_WHO_IDS: usize = 50;

/// Whom the event is linked to: contacts (in attendee order) and, when there are none, a lead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    pub contacts: Vec<String>,
    pub lead: Option<String>,
}

impl Links {
    /// `WhoId` and the `EventWhoIds` list.
    fn who(&self) -> (Option<&str>, Vec<&str>) {
        if let Some(first) = self.contacts.first() {
            let list = self.contacts.iter().take(MAX_EVENT_WHO_IDS);
            (Some(first), list.map(String::as_str).collect())
        } else if let Some(lead) = &self.lead {
            (Some(lead), vec![lead.as_str()])
        } else {
            (None, Vec::new())
        }
    }
}

/// The body of the upsert. `links` is `None` when linking is off; `shared_activities` says
/// whether `EventWhoIds` may be sent.
pub fn event_body(
    record: &MeetingRecord,
    links: Option<&Links>,
    shared_activities: bool,
) -> Map<String, Value> {
    let span = Span::of(record);
    let mut subject = String::new();
    if record.meeting_status == MeetingStatus::Cancelled {
        subject.push_str(CANCELLED_PREFIX);
    }
    subject.push_str(&record.meeting_subject);
    let mut body = Map::new();
    body.insert("Subject".into(), json!(truncate(&subject, SUBJECT_MAX)));
    body.insert("Description".into(), json!(description(record, &span)));
    body.insert("Location".into(), json!(location(record)));
    body.insert("IsAllDayEvent".into(), json!(record.all_day));
    if record.all_day {
        let first = span.start.to_zoned_datetime(TimeZone::UTC).date();
        body.insert("ActivityDate".into(), json!(first.to_string()));
    }
    body.insert("StartDateTime".into(), json!(span.start.to_string()));
    body.insert("EndDateTime".into(), json!(span.end.to_string()));
    let show_as = match record.meeting_status {
        MeetingStatus::Cancelled => "Free",
        MeetingStatus::Confirmed | MeetingStatus::Tentative => "Busy",
    };
    body.insert("ShowAs".into(), json!(show_as));
    // A redacted private meeting is also private in Salesforce (visible to its owner only).
    body.insert("IsPrivate".into(), json!(record.private));
    if let Some(links) = links {
        let (who, list) = links.who();
        body.insert("WhoId".into(), json!(who));
        if shared_activities {
            body.insert("EventWhoIds".into(), json!(list));
        }
    }
    body
}

/// The times written, after the all-day convention and the length cap.
struct Span {
    start: Timestamp,
    end: Timestamp,
    /// The real end, when the cap cut the event short.
    cut_from: Option<Timestamp>,
}

impl Span {
    fn of(record: &MeetingRecord) -> Span {
        let start = record.meeting_date;
        let day = SignedDuration::from_hours(24);
        let cap = day * (MAX_EVENT_DAYS as i32);
        let after = |offset: SignedDuration| start.checked_add(offset).unwrap_or(start);
        if record.all_day {
            // The record ends at the midnight after the last day; Salesforce wants the last day.
            let last = record
                .meeting_end_date
                .checked_sub(day)
                .unwrap_or(start)
                .max(start);
            let longest = after(cap - day);
            if last > longest {
                return Span {
                    start,
                    end: longest,
                    cut_from: Some(last),
                };
            }
            return Span {
                start,
                end: last,
                cut_from: None,
            };
        }
        let end = record.meeting_end_date.max(start);
        let longest = after(cap);
        Span {
            start,
            end: end.min(longest),
            cut_from: (end > longest).then_some(end),
        }
    }
}

fn description(record: &MeetingRecord, span: &Span) -> Option<String> {
    let mut footer: Vec<String> = Vec::new();
    match record.meeting_status {
        MeetingStatus::Cancelled => footer.push("This meeting was cancelled.".into()),
        MeetingStatus::Tentative => footer.push("Status: tentative.".into()),
        MeetingStatus::Confirmed => {}
    }
    if let Some(label) = &record.series_label {
        footer.push(label.clone());
    }
    if let Some(link) = &record.meeting_link {
        footer.push(format!("Meeting link: {link}"));
    }
    if let Some(real_end) = span.cut_from {
        let end = if record.all_day {
            real_end.to_zoned_datetime(TimeZone::UTC).date().to_string()
        } else {
            real_end.to_string()
        };
        footer.push(format!(
            "Ends {end} (shown as {MAX_EVENT_DAYS} days: Salesforce events cannot be longer)."
        ));
    }
    let footer = footer.join("\n");
    let text = match (record.notes.as_deref(), footer.is_empty()) {
        (None, true) => return None,
        (None, false) => footer,
        (Some(notes), true) => notes.to_owned(),
        (Some(notes), false) => {
            let budget = DESCRIPTION_MAX.saturating_sub(utf16_len(&footer) + 2);
            format!("{}\n\n{footer}", truncate(notes, budget))
        }
    };
    Some(truncate(&text, DESCRIPTION_MAX).into_owned())
}

/// The location, else the meeting link when it fits whole (a cut URL is useless).
fn location(record: &MeetingRecord) -> Option<String> {
    if let Some(location) = &record.meeting_location {
        return Some(truncate(location, LOCATION_MAX).into_owned());
    }
    record
        .meeting_link
        .as_ref()
        .filter(|link| utf16_len(link) <= LOCATION_MAX)
        .cloned()
}

/// Length as Salesforce counts it (UTF-16 code units).
pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// `text` cut to at most `max` UTF-16 code units on a character boundary, ending with `…` when
/// cut.
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if utf16_len(text) <= max {
        return Cow::Borrowed(text);
    }
    let budget = max.saturating_sub(1);
    let mut used = 0;
    let mut cut = 0;
    for (index, c) in text.char_indices() {
        if used + c.len_utf16() > budget {
            cut = index;
            break;
        }
        used += c.len_utf16();
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    Cow::Owned(format!("{}…", &text[..cut]))
}

#[cfg(test)]
mod tests;
