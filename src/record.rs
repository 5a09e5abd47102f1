//! The CRM meeting record: the one shape every adapter maps from.
//!
//! Field names and formats are the contract of `architecture.md` ("The CRM record"); the
//! generic REST adapter sends this struct as its JSON body unchanged. Optional fields serialize
//! as `null`, never as `""` or `"None"`. Times are RFC 3339 UTC with `Z`.
//!
//! [`MeetingRecord::content_hash`] is the change detector behind invariant 5 ("no write without a
//! change"). It covers the meeting's content and deliberately leaves out bookkeeping that does not
//! change what a salesperson sees: `grant_id` and `provider_calendar_id` (the same event reached
//! through another attendee's grant must not cause a write) and `source_updated_at` (an edit that
//! touched only fields we do not map, such as reminders, must not cause a write).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{EventId, GrantId};

/// One meeting as the CRM should hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeetingRecord {
    /// The Nylas event id: the record's key (`external_event_id` in the record contract).
    #[serde(rename = "external_event_id")]
    pub event_id: EventId,
    /// The grant (connected account) the event was read through.
    pub grant_id: GrantId,
    /// The provider's calendar id, when known.
    pub provider_calendar_id: Option<String>,
    /// The title, or `"Untitled meeting"`.
    pub meeting_subject: String,
    /// `confirmed | tentative | cancelled`.
    pub meeting_status: MeetingStatus,
    /// Start, UTC.
    pub meeting_date: Timestamp,
    /// End, UTC.
    pub meeting_end_date: Timestamp,
    /// Whole minutes between start and end.
    pub duration_minutes: i64,
    /// True for `date` and `datespan` events.
    pub all_day: bool,
    /// The event's IANA (or provider) time zone name, when given.
    pub timezone: Option<String>,
    /// Free-text location.
    pub meeting_location: Option<String>,
    /// Conferencing URL.
    pub meeting_link: Option<String>,
    /// The description as plain text.
    pub notes: Option<String>,
    /// Organizer's email, trimmed and lowercased.
    pub organizer_email: Option<String>,
    /// The email of the rep the meeting belongs to (`crm.owner`), trimmed and lowercased;
    /// `None` with `crm.owner = "none"`. Adapters map it to their CRM user.
    pub owner_email: Option<String>,
    /// Participants that have an email.
    pub attendees: Vec<Attendee>,
    /// True for occurrences of a recurring series (and for series masters).
    pub is_recurring: bool,
    /// The series master's event id, for occurrences.
    pub master_event_id: Option<String>,
    /// `"Series: <title>"` for occurrences of a recurring event.
    pub series_label: Option<String>,
    /// The iCalendar UID shared by all copies of the meeting.
    pub ical_uid: Option<String>,
    /// The event's `updated_at`: its version.
    pub source_updated_at: Option<Timestamp>,
    /// The event is private and was redacted (`sync.private_events = "redact"`): adapters that
    /// can mark a record private do so (Salesforce `IsPrivate`). Not part of the REST body: the
    /// redaction itself is what a REST CRM receives.
    #[serde(skip)]
    pub private: bool,
}

/// The meeting's status in the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MeetingStatus {
    /// The meeting takes place.
    Confirmed,
    /// The meeting is not confirmed yet.
    Tentative,
    /// The meeting was cancelled (or deleted, with `sync.deleted_meetings = "cancel"`).
    Cancelled,
}

/// One attendee with an email address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    /// Trimmed, lowercased.
    pub email: String,
    /// The display name, when the calendar has one.
    pub name: Option<String>,
    /// The attendee's answer.
    pub rsvp_status: RsvpStatus,
}

/// An attendee's answer to the invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RsvpStatus {
    /// Accepted.
    Yes,
    /// Declined.
    No,
    /// Tentatively accepted.
    Maybe,
    /// Not answered.
    Noreply,
}

/// The part of the record that [`MeetingRecord::content_hash`] covers.
#[derive(Serialize)]
struct HashedContent<'a> {
    external_event_id: &'a str,
    meeting_subject: &'a str,
    meeting_status: MeetingStatus,
    meeting_date: Timestamp,
    meeting_end_date: Timestamp,
    duration_minutes: i64,
    all_day: bool,
    timezone: &'a Option<String>,
    meeting_location: &'a Option<String>,
    meeting_link: &'a Option<String>,
    notes: &'a Option<String>,
    organizer_email: &'a Option<String>,
    owner_email: &'a Option<String>,
    attendees: &'a [Attendee],
    is_recurring: bool,
    master_event_id: &'a Option<String>,
    series_label: &'a Option<String>,
    ical_uid: &'a Option<String>,
    private: bool,
}

/// The key under which a stored record keeps `private`, which the REST body leaves out.
const STORED_PRIVATE: &str = "calsync_private";

impl MeetingRecord {
    /// The record as the store keeps it (a meeting copy's content): the REST body plus what the
    /// body leaves out (`private`), so [`MeetingRecord::from_stored`] gives the same record back.
    pub fn to_stored(&self) -> Result<serde_json::Value, serde_json::Error> {
        let mut value = serde_json::to_value(self)?;
        if let Some(object) = value.as_object_mut() {
            object.insert(STORED_PRIVATE.into(), self.private.into());
        }
        Ok(value)
    }

    /// The record [`MeetingRecord::to_stored`] kept.
    pub fn from_stored(mut value: serde_json::Value) -> Result<Self, serde_json::Error> {
        let private = value
            .as_object_mut()
            .and_then(|object| object.remove(STORED_PRIVATE))
            .and_then(|flag| flag.as_bool())
            .unwrap_or(false);
        let mut record: MeetingRecord = serde_json::from_value(value)?;
        record.private = private;
        Ok(record)
    }

    /// Lowercase hex SHA-256 of the record's content (see the module docs for what is covered).
    pub fn content_hash(&self) -> String {
        let content = HashedContent {
            external_event_id: self.event_id.as_str(),
            meeting_subject: &self.meeting_subject,
            meeting_status: self.meeting_status,
            meeting_date: self.meeting_date,
            meeting_end_date: self.meeting_end_date,
            duration_minutes: self.duration_minutes,
            all_day: self.all_day,
            timezone: &self.timezone,
            meeting_location: &self.meeting_location,
            meeting_link: &self.meeting_link,
            notes: &self.notes,
            organizer_email: &self.organizer_email,
            owner_email: &self.owner_email,
            attendees: &self.attendees,
            is_recurring: self.is_recurring,
            master_event_id: &self.master_event_id,
            series_label: &self.series_label,
            ical_uid: &self.ical_uid,
            private: self.private,
        };
        // Serializing a struct of strings, numbers and timestamps cannot fail.
        let bytes = serde_json::to_vec(&content).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MeetingRecord {
        MeetingRecord {
            event_id: "evt_1".into(),
            grant_id: "grant_a".into(),
            provider_calendar_id: Some("primary".into()),
            meeting_subject: "Demo".into(),
            meeting_status: MeetingStatus::Confirmed,
            meeting_date: "2026-07-01T10:00:00Z".parse().unwrap(),
            meeting_end_date: "2026-07-01T10:45:00Z".parse().unwrap(),
            duration_minutes: 45,
            all_day: false,
            timezone: Some("America/Los_Angeles".into()),
            meeting_location: None,
            meeting_link: None,
            notes: None,
            organizer_email: Some("rep@example.com".into()),
            attendees: vec![Attendee {
                email: "buyer@prospect.com".into(),
                name: None,
                rsvp_status: RsvpStatus::Noreply,
            }],
            is_recurring: false,
            master_event_id: None,
            series_label: None,
            ical_uid: None,
            source_updated_at: Some("2026-06-30T09:00:00Z".parse().unwrap()),
            private: false,
            owner_email: None,
        }
    }

    #[test]
    fn serializes_with_the_contract_field_formats() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["meeting_date"], "2026-07-01T10:00:00Z");
        assert_eq!(json["meeting_status"], "confirmed");
        assert_eq!(json["attendees"][0]["rsvp_status"], "noreply");
        assert!(json["meeting_location"].is_null());
        assert!(json["attendees"][0]["name"].is_null());
    }

    #[test]
    fn hash_changes_with_content_but_not_with_bookkeeping() {
        let base = sample();
        let mut other_grant = sample();
        other_grant.grant_id = "grant_b".into();
        other_grant.provider_calendar_id = None;
        other_grant.source_updated_at = None;
        assert_eq!(base.content_hash(), other_grant.content_hash());

        let mut retitled = sample();
        retitled.meeting_subject = "Demo (moved)".into();
        assert_ne!(base.content_hash(), retitled.content_hash());
        assert_eq!(base.content_hash().len(), 64);
    }

    #[test]
    fn a_stored_record_comes_back_whole_private_flag_included() {
        let mut private = sample();
        private.private = true;
        private.owner_email = Some("rep@example.com".into());
        let stored = private.to_stored().unwrap();
        assert_eq!(MeetingRecord::from_stored(stored).unwrap(), private);
        let public = sample();
        assert_eq!(
            MeetingRecord::from_stored(public.to_stored().unwrap()).unwrap(),
            public
        );
    }
}
