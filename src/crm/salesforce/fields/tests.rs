//! The Event body mapping: times, all-day, the length cap, truncation, cancellation, links.

use serde_json::json;

use super::*;
use crate::record::{Attendee, RsvpStatus};

fn record() -> MeetingRecord {
    MeetingRecord {
        event_id: "evt_1".into(),
        grant_id: "grant_a".into(),
        provider_calendar_id: Some("primary".into()),
        meeting_subject: "Discovery call".into(),
        meeting_status: MeetingStatus::Confirmed,
        meeting_date: "2026-07-01T10:00:00Z".parse().unwrap(),
        meeting_end_date: "2026-07-01T10:45:00Z".parse().unwrap(),
        duration_minutes: 45,
        all_day: false,
        timezone: Some("America/Los_Angeles".into()),
        meeting_location: Some("Zoom".into()),
        meeting_link: Some("https://zoom.us/j/1".into()),
        notes: Some("Agenda: pricing".into()),
        organizer_email: Some("rep@seller.com".into()),
        attendees: vec![Attendee {
            email: "buyer@prospect.com".into(),
            name: Some("Pat Buyer".into()),
            rsvp_status: RsvpStatus::Yes,
        }],
        is_recurring: false,
        master_event_id: None,
        series_label: None,
        ical_uid: None,
        source_updated_at: None,
        private: false,
        owner_email: None,
    }
}

fn all_day(first: &str, after_last: &str) -> MeetingRecord {
    let mut record = record();
    record.all_day = true;
    record.meeting_date = format!("{first}T00:00:00Z").parse().unwrap();
    record.meeting_end_date = format!("{after_last}T00:00:00Z").parse().unwrap();
    record
}

#[test]
fn a_timed_event_maps_every_field_in_utc() {
    let body = Value::Object(event_body(&record(), None, true));
    assert_eq!(
        body,
        json!({
            "Subject": "Discovery call",
            "Description": "Agenda: pricing\n\nMeeting link: https://zoom.us/j/1",
            "Location": "Zoom",
            "IsAllDayEvent": false,
            "StartDateTime": "2026-07-01T10:00:00Z",
            "EndDateTime": "2026-07-01T10:45:00Z",
            "ShowAs": "Busy",
            "IsPrivate": false
        })
    );
}

#[test]
fn empty_fields_are_sent_as_null_so_updates_clear_them() {
    let mut bare = record();
    bare.meeting_location = None;
    bare.meeting_link = None;
    bare.notes = None;
    let body = event_body(&bare, None, true);
    assert_eq!(body["Location"], Value::Null);
    assert_eq!(body["Description"], Value::Null);
}

#[test]
fn the_meeting_link_is_the_location_when_there_is_none_and_it_fits() {
    let mut online = record();
    online.meeting_location = None;
    assert_eq!(
        event_body(&online, None, true)["Location"],
        "https://zoom.us/j/1"
    );
    online.meeting_link = Some(format!("https://meet.example/{}", "x".repeat(300)));
    assert_eq!(event_body(&online, None, true)["Location"], Value::Null);
}

#[test]
fn a_one_day_all_day_event_starts_and_ends_on_its_day() {
    let body = event_body(&all_day("2026-07-01", "2026-07-02"), None, true);
    assert_eq!(body["IsAllDayEvent"], true);
    assert_eq!(body["ActivityDate"], "2026-07-01");
    assert_eq!(body["StartDateTime"], "2026-07-01T00:00:00Z");
    assert_eq!(body["EndDateTime"], "2026-07-01T00:00:00Z");
}

#[test]
fn a_multi_day_all_day_event_ends_on_its_last_day() {
    let body = event_body(&all_day("2026-07-01", "2026-07-04"), None, true);
    assert_eq!(body["ActivityDate"], "2026-07-01");
    assert_eq!(body["StartDateTime"], "2026-07-01T00:00:00Z");
    assert_eq!(body["EndDateTime"], "2026-07-03T00:00:00Z");
    assert!(!body.contains_key("DurationInMinutes"));
}

#[test]
fn events_longer_than_fourteen_days_are_cut_and_say_so() {
    let body = event_body(&all_day("2026-07-01", "2026-08-01"), None, true);
    assert_eq!(body["EndDateTime"], "2026-07-14T00:00:00Z");
    let description = body["Description"].as_str().unwrap();
    assert!(
        description
            .ends_with("Ends 2026-07-31 (shown as 14 days: Salesforce events cannot be longer)."),
        "{description}"
    );
    // Exactly fourteen days is not cut.
    let body = event_body(&all_day("2026-07-01", "2026-07-15"), None, true);
    assert_eq!(body["EndDateTime"], "2026-07-14T00:00:00Z");
    assert!(!body["Description"].as_str().unwrap().contains("Ends"));

    let mut long = record();
    long.meeting_end_date = "2026-08-01T10:00:00Z".parse().unwrap();
    let body = event_body(&long, None, true);
    assert_eq!(body["EndDateTime"], "2026-07-15T10:00:00Z");
    assert!(
        body["Description"]
            .as_str()
            .unwrap()
            .contains("Ends 2026-08-01T10:00:00Z")
    );
}

#[test]
fn a_cancelled_meeting_is_marked_not_removed() {
    let mut cancelled = record();
    cancelled.meeting_status = MeetingStatus::Cancelled;
    let body = event_body(&cancelled, None, true);
    assert_eq!(body["Subject"], "Cancelled: Discovery call");
    assert_eq!(body["ShowAs"], "Free");
    assert!(
        body["Description"]
            .as_str()
            .unwrap()
            .contains("This meeting was cancelled.")
    );
}

#[test]
fn long_text_is_cut_on_a_character_boundary_to_the_field_length() {
    let mut long = record();
    long.meeting_subject = "é".repeat(300);
    long.meeting_location = Some("📍".repeat(200));
    long.notes = Some("n".repeat(40_000));
    long.meeting_status = MeetingStatus::Cancelled;
    let body = event_body(&long, None, true);
    let subject = body["Subject"].as_str().unwrap();
    assert_eq!(utf16_len(subject), SUBJECT_MAX);
    assert!(subject.starts_with("Cancelled: éé") && subject.ends_with("é…"));
    // Each pin is two UTF-16 units: 127 pins and the ellipsis make 255.
    let location = body["Location"].as_str().unwrap();
    assert_eq!(location.chars().filter(|c| *c == '📍').count(), 127);
    assert_eq!(utf16_len(location), LOCATION_MAX);
    let description = body["Description"].as_str().unwrap();
    assert_eq!(utf16_len(description), DESCRIPTION_MAX);
    assert!(
        description.ends_with("This meeting was cancelled.\nMeeting link: https://zoom.us/j/1")
    );
}

#[test]
fn truncation_keeps_short_text_and_never_splits_a_character() {
    assert_eq!(truncate("short", 10), "short");
    assert_eq!(truncate("abcdef", 4), "abc…");
    assert_eq!(truncate("a😀b", 3), "a…");
    assert_eq!(truncate("abc", 0), "");
    assert_eq!(utf16_len("a😀"), 3);
}

#[test]
fn links_name_the_first_contact_and_list_them_all() {
    let links = Links {
        contacts: (0..60).map(|n| format!("003{n:015}")).collect(),
        lead: Some("00Q000000000000001".into()),
    };
    let body = event_body(&record(), Some(&links), true);
    assert_eq!(body["WhoId"], "003000000000000000");
    let list = body["EventWhoIds"].as_array().unwrap();
    assert_eq!(list.len(), MAX_EVENT_WHO_IDS);
    assert!(
        list.iter()
            .all(|id| id.as_str().unwrap().starts_with("003"))
    );

    let body = event_body(&record(), Some(&links), false);
    assert_eq!(body["WhoId"], "003000000000000000");
    assert!(!body.contains_key("EventWhoIds"));
}

#[test]
fn a_lead_is_linked_alone_and_no_match_clears_the_links() {
    let lead_only = Links {
        contacts: Vec::new(),
        lead: Some("00Q1".into()),
    };
    let body = event_body(&record(), Some(&lead_only), true);
    assert_eq!(body["WhoId"], "00Q1");
    assert_eq!(body["EventWhoIds"], json!(["00Q1"]));

    let body = event_body(&record(), Some(&Links::default()), true);
    assert_eq!(body["WhoId"], Value::Null);
    assert_eq!(body["EventWhoIds"], json!([]));

    let body = event_body(&record(), None, true);
    assert!(!body.contains_key("WhoId") && !body.contains_key("EventWhoIds"));
}

#[test]
fn series_and_tentative_are_noted() {
    let mut occurrence = record();
    occurrence.series_label = Some("Series: Weekly sync".into());
    occurrence.meeting_status = MeetingStatus::Tentative;
    occurrence.notes = None;
    occurrence.meeting_link = None;
    let body = event_body(&occurrence, None, true);
    assert_eq!(
        body["Description"],
        "Status: tentative.\nSeries: Weekly sync"
    );
    assert_eq!(body["ShowAs"], "Busy");
}
