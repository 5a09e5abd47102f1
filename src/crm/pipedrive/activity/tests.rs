//! The activity body and the note marker.

use serde_json::json;

use super::*;
use crate::record::{Attendee, RsvpStatus};

fn record() -> MeetingRecord {
    MeetingRecord {
        event_id: "evt_1".into(),
        grant_id: "g".into(),
        provider_calendar_id: None,
        meeting_subject: "Demo".into(),
        meeting_status: MeetingStatus::Confirmed,
        // 23:30 UTC: the date and the time must come from the same UTC instant.
        meeting_date: "2026-07-01T23:30:00Z".parse().unwrap(),
        meeting_end_date: "2026-07-02T01:15:00Z".parse().unwrap(),
        duration_minutes: 105,
        all_day: false,
        timezone: Some("America/Los_Angeles".into()),
        meeting_location: Some("HQ, Room 4".into()),
        meeting_link: Some("https://zoom.us/j/1?a=1&b=2".into()),
        notes: Some("Agenda:\npricing <draft>".into()),
        organizer_email: Some("rep@seller.com".into()),
        attendees: vec![
            Attendee {
                email: "rep@seller.com".into(),
                name: Some("Rita Rep".into()),
                rsvp_status: RsvpStatus::Yes,
            },
            Attendee {
                email: "buyer@prospect.com".into(),
                name: Some("Pat Buyer".into()),
                rsvp_status: RsvpStatus::Maybe,
            },
            Attendee {
                email: "cfo@prospect.com".into(),
                name: None,
                rsvp_status: RsvpStatus::Noreply,
            },
        ],
        is_recurring: false,
        master_event_id: None,
        series_label: None,
        ical_uid: None,
        source_updated_at: None,
        private: false,
        owner_email: None,
    }
}

#[test]
fn a_timed_meeting_is_due_at_its_utc_start_with_its_duration() {
    let persons = [Person {
        email: "buyer@prospect.com".into(),
        id: 7,
    }];
    let body = activity_body(&record(), Some(&persons));
    assert_eq!(body["type"], "meeting");
    assert_eq!(body["subject"], "Demo");
    assert_eq!(body["due_date"], "2026-07-01");
    assert_eq!(body["due_time"], "23:30");
    assert_eq!(body["duration"], "01:45");
    assert_eq!(body["busy"], true);
    assert_eq!(body["done"], false);
    assert_eq!(body["location"], json!({"value": "HQ, Room 4"}));
    assert_eq!(
        body["participants"],
        json!([{"person_id": 7, "primary": true}])
    );
    assert_eq!(
        body["attendees"],
        json!([
            {"email": "rep@seller.com", "name": "Rita Rep", "is_organizer": true},
            {"email": "buyer@prospect.com", "name": "Pat Buyer", "person_id": 7},
            {"email": "cfo@prospect.com"}
        ])
    );
    assert_eq!(
        body["note"],
        "<p>Agenda:<br>pricing &lt;draft&gt;</p>\
         <p>Meeting link: <a href=\"https://zoom.us/j/1?a=1&amp;b=2\">https://zoom.us/j/1?a=1&amp;b=2</a></p>\
         <p>calsync-event-id: evt_1</p>"
    );
}

#[test]
fn without_linking_participants_are_left_alone() {
    let body = activity_body(&record(), None);
    assert!(body.get("participants").is_none());
    let body = activity_body(&record(), Some(&[]));
    assert_eq!(body["participants"], json!([]));
}

#[test]
fn an_all_day_meeting_has_a_date_only_and_names_its_days() {
    let mut meeting = record();
    meeting.all_day = true;
    meeting.meeting_date = "2026-07-01T00:00:00Z".parse().unwrap();
    meeting.meeting_end_date = "2026-07-04T00:00:00Z".parse().unwrap();
    meeting.duration_minutes = 3 * 24 * 60;
    meeting.meeting_link = None;
    meeting.notes = None;
    let body = activity_body(&meeting, None);
    assert_eq!(body["due_date"], "2026-07-01");
    assert!(body.get("due_time").is_none());
    assert!(body.get("duration").is_none());
    assert_eq!(
        body["note"],
        "<p>All day, 2026-07-01 to 2026-07-03 (3 days)</p><p>calsync-event-id: evt_1</p>"
    );

    meeting.meeting_end_date = "2026-07-02T00:00:00Z".parse().unwrap();
    meeting.duration_minutes = 24 * 60;
    let body = activity_body(&meeting, None);
    assert_eq!(body["note"], "<p>calsync-event-id: evt_1</p>");
}

#[test]
fn a_cancelled_meeting_stays_but_says_so() {
    let mut meeting = record();
    meeting.meeting_status = MeetingStatus::Cancelled;
    meeting.meeting_location = None;
    let body = activity_body(&meeting, None);
    assert_eq!(body["subject"], "Cancelled: Demo");
    assert_eq!(body["busy"], false);
    assert!(body.get("location").is_none());
}

#[test]
fn the_marker_is_found_only_for_its_own_event() {
    let note = activity_body(&record(), None)["note"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(has_marker(&note, "evt_1"));
    assert!(!has_marker(&note, "evt_"));
    assert!(!has_marker(&note, "evt_10"));
    // Pipedrive may rewrite the HTML around the marker.
    assert!(has_marker(
        "<div>calsync-event-id:&nbsp;evt_1</div>",
        "evt_1"
    ));
    assert!(has_marker("x\ncalsync-event-id: a&amp;b\n", "a&b"));
    assert!(!has_marker("no marker", "evt_1"));
}
