//! The meeting record as HubSpot meeting properties.
//!
//! Invariants: every value is a string (HubSpot types all property values as strings); times
//! are RFC 3339 UTC; `hs_timestamp` is the meeting's start (not the time of writing); optional
//! fields are sent as `""` so an update clears a value the event no longer has; the event id
//! is always written to the configured property, which is what recovery searches on; every
//! value fits HubSpot's cap for a property value (`crm::limits`), the body by cutting the notes.

use serde_json::{Map, Value};

use crate::crm::limits::{HUBSPOT_PROPERTY, fit, fit_notes};
use crate::crm::owners::Owner;
use crate::crm::vendor::html_text;
use crate::record::{MeetingRecord, MeetingStatus};

/// `hs_meeting_outcome` of a meeting that takes place (confirmed or tentative).
pub const OUTCOME_SCHEDULED: &str = "SCHEDULED";
/// `hs_meeting_outcome` of a cancelled meeting (American spelling, as HubSpot defines it).
pub const OUTCOME_CANCELED: &str = "CANCELED";

/// The properties to create or update the meeting with. `hubspot_owner_id` is the owner's id,
/// `""` (cleared) when the owner has no HubSpot user, and left alone with `crm.owner = "none"`.
pub fn meeting_properties(
    record: &MeetingRecord,
    event_id_property: &str,
    owner: &Owner,
) -> Map<String, Value> {
    let start = record.meeting_date.to_string();
    let outcome = match record.meeting_status {
        MeetingStatus::Cancelled => OUTCOME_CANCELED,
        MeetingStatus::Confirmed | MeetingStatus::Tentative => OUTCOME_SCHEDULED,
    };
    let text = |value: &Option<String>| {
        let value = value.as_deref().unwrap_or("").trim();
        fit(value, HUBSPOT_PROPERTY).into_owned()
    };
    let mut properties = Map::new();
    let mut set = |name: &str, value: String| {
        properties.insert(name.to_owned(), Value::String(value));
    };
    set("hs_timestamp", start.clone());
    set(
        "hs_meeting_title",
        text(&Some(record.meeting_subject.clone())),
    );
    set("hs_meeting_body", body(record));
    set("hs_meeting_start_time", start);
    set("hs_meeting_end_time", record.meeting_end_date.to_string());
    set("hs_meeting_location", text(&record.meeting_location));
    set("hs_meeting_external_url", text(&record.meeting_link));
    set("hs_meeting_outcome", outcome.to_owned());
    set(event_id_property, record.event_id.to_string());
    match owner {
        Owner::User(id) => set("hubspot_owner_id", id.clone()),
        Owner::Unmapped => set("hubspot_owner_id", String::new()),
        Owner::Untouched => {}
    }
    properties
}

/// `hs_meeting_body` (rich text): the notes, then the series label of a recurring occurrence;
/// over-long notes are cut so the body fits a property value.
fn body(record: &MeetingRecord) -> String {
    let build = |notes: &str| {
        let parts: Vec<String> = [Some(notes), record.series_label.as_deref()]
            .into_iter()
            .flatten()
            .map(html_text)
            .filter(|part| !part.is_empty())
            .map(|part| format!("<p>{part}</p>"))
            .collect();
        parts.concat()
    };
    fit_notes(
        record.notes.as_deref().unwrap_or(""),
        HUBSPOT_PROPERTY,
        build,
    )
}

/// First and last name from a display name: the first word, and the rest.
pub fn split_name(name: &str) -> (Option<String>, Option<String>) {
    let name = name.trim();
    match name.split_once(char::is_whitespace) {
        Some((first, rest)) => (Some(first.to_owned()), Some(rest.trim().to_owned())),
        None if name.is_empty() => (None, None),
        None => (Some(name.to_owned()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Attendee, RsvpStatus};

    fn record() -> MeetingRecord {
        MeetingRecord {
            event_id: "evt_1".into(),
            grant_id: "g".into(),
            provider_calendar_id: None,
            meeting_subject: "Demo".into(),
            meeting_status: MeetingStatus::Confirmed,
            meeting_date: "2026-07-01T10:00:00Z".parse().unwrap(),
            meeting_end_date: "2026-07-01T10:45:00Z".parse().unwrap(),
            duration_minutes: 45,
            all_day: false,
            timezone: None,
            meeting_location: Some("Room <4>".into()),
            meeting_link: None,
            notes: Some("Agenda:\npricing".into()),
            organizer_email: Some("rep@seller.com".into()),
            attendees: vec![Attendee {
                email: "buyer@prospect.com".into(),
                name: None,
                rsvp_status: RsvpStatus::Yes,
            }],
            is_recurring: true,
            master_event_id: Some("evt_0".into()),
            series_label: Some("Series: Demo".into()),
            ical_uid: None,
            source_updated_at: None,
            private: false,
            owner_email: None,
        }
    }

    #[test]
    fn properties_are_strings_with_the_start_as_timestamp() {
        let properties =
            meeting_properties(&record(), "calsync_event_id", &Owner::User("77".into()));
        let get = |name: &str| properties[name].as_str().unwrap().to_owned();
        assert_eq!(get("hs_timestamp"), "2026-07-01T10:00:00Z");
        assert_eq!(get("hs_meeting_start_time"), "2026-07-01T10:00:00Z");
        assert_eq!(get("hs_meeting_end_time"), "2026-07-01T10:45:00Z");
        assert_eq!(get("hs_meeting_title"), "Demo");
        assert_eq!(
            get("hs_meeting_body"),
            "<p>Agenda:<br>pricing</p><p>Series: Demo</p>"
        );
        assert_eq!(get("hs_meeting_location"), "Room <4>");
        assert_eq!(get("hs_meeting_external_url"), "");
        assert_eq!(get("hs_meeting_outcome"), "SCHEDULED");
        assert_eq!(get("calsync_event_id"), "evt_1");
        assert_eq!(get("hubspot_owner_id"), "77");
        assert!(properties.values().all(Value::is_string));
    }

    #[test]
    fn a_cancelled_meeting_is_canceled_not_removed() {
        let mut cancelled = record();
        cancelled.meeting_status = MeetingStatus::Cancelled;
        let properties = meeting_properties(&cancelled, "my_prop", &Owner::Untouched);
        assert_eq!(properties["hs_meeting_outcome"], "CANCELED");
        assert_eq!(properties["my_prop"], "evt_1");
        assert!(!properties.contains_key("hubspot_owner_id"));
    }

    #[test]
    fn names_split_into_first_and_last() {
        assert_eq!(
            split_name(" Pat  van Buyer "),
            (Some("Pat".into()), Some("van Buyer".into()))
        );
        assert_eq!(split_name("Pat"), (Some("Pat".into()), None));
        assert_eq!(split_name("  "), (None, None));
    }
}
