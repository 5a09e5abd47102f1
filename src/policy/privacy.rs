//! Private events: which events are private, and what a redacted record keeps.
//!
//! Invariant: a redacted record carries nothing of the event's content that its owner hid — no
//! title (also not inside the series label), notes, location or conferencing link — but keeps
//! its times, status and attendees, so the meeting still counts and links to its contacts.

use crate::nylas::Event;
use crate::record::MeetingRecord;

/// The subject of a redacted private meeting.
pub const PRIVATE_SUBJECT: &str = "Private meeting";

/// True when the event's `visibility` is `private` or `confidential` (compared without case).
pub fn is_private(event: &Event) -> bool {
    event
        .visibility
        .as_deref()
        .map(|visibility| visibility.trim().to_ascii_lowercase())
        .is_some_and(|visibility| visibility == "private" || visibility == "confidential")
}

/// Removes what the owner hid and marks the record private.
pub fn redact(record: &mut MeetingRecord) {
    record.meeting_subject = PRIVATE_SUBJECT.to_owned();
    record.notes = None;
    record.meeting_location = None;
    record.meeting_link = None;
    if record.series_label.is_some() {
        record.series_label = Some(format!("Series: {PRIVATE_SUBJECT}"));
    }
    record.private = true;
}
