//! Tests of [`super::map_event`] on payloads parsed from JSON, as they arrive from Nylas.

use serde_json::json;

use super::*;
use crate::nylas::models::Event;

const GRANT: &str = "grant-fallback";

fn event(json: &str) -> Event {
    serde_json::from_str(json).unwrap()
}

/// An event with a valid timespan plus the given extra top-level fields.
fn event_with(extra: serde_json::Value) -> Event {
    let mut value = json!({
        "id": "evt_1",
        "when": {"object": "timespan", "start_time": 1782900000, "end_time": 1782902700},
    });
    let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) else {
        panic!("objects expected");
    };
    base.extend(extra.clone());
    serde_json::from_value(value).unwrap()
}

fn map(event: &Event) -> MeetingRecord {
    map_event(event, GRANT).unwrap()
}

/// A Google occurrence of a recurring meeting, with HTML description and unknown fields.
const GOOGLE_EVENT: &str = r#"{
  "id": "5v0q7mbl8u1ep8sddq2bik3bkq_20260701T100000Z",
  "object": "event",
  "grant_id": "1e3288f6-124e-405d-a13a-635a2ee54eb2",
  "calendar_id": "rep@example.com",
  "title": "  Acme <> Contoso: pricing review ",
  "description": "<p>Hi all,</p><p>Agenda:</p><ul><li>Pricing &amp; packaging</li><li>Next&nbsp;steps</li></ul><br>Join with Google Meet: <a href=\"https://meet.google.com/abc-defg-hij\">meet.google.com/abc-defg-hij</a>",
  "location": "Conference Room 4B ",
  "busy": true,
  "status": "confirmed",
  "visibility": "default",
  "read_only": false,
  "html_link": "https://www.google.com/calendar/event?eid=NXYwcTdtYmw4dTFlcDhzZGRxMmJpazNia3E",
  "ical_uid": "5v0q7mbl8u1ep8sddq2bik3bkq@google.com",
  "recurrence": [],
  "master_event_id": "5v0q7mbl8u1ep8sddq2bik3bkq",
  "original_start_time": 1782900000,
  "created_at": 1782000000,
  "updated_at": 1782810000,
  "metadata": {"deal": "42"},
  "reminders": {"use_default": true, "overrides": []},
  "resources": [],
  "hide_participants": false,
  "capacity": -1,
  "when": {
    "object": "timespan",
    "start_time": 1782900000,
    "end_time": 1782902700,
    "start_timezone": "America/Los_Angeles",
    "end_timezone": "America/Los_Angeles"
  },
  "participants": [
    {"email": "Buyer@Prospect.com ", "name": " Bea Buyer", "status": "yes", "comment": null, "phone_number": null},
    {"email": "cfo@prospect.com", "name": "", "status": "noreply"},
    {"email": "rep@example.com", "name": "Rita Rep", "status": "yes"},
    {"email": "room-4b@resource.calendar.google.com", "name": "Conference Room 4B", "status": "maybe"},
    {"email": "buyer@prospect.com", "name": "Duplicate", "status": "no"}
  ],
  "conferencing": {
    "provider": "Google Meet",
    "details": {"url": "https://meet.google.com/abc-defg-hij", "meeting_code": "abc-defg-hij", "phone": ["+1 555-0100"], "pin": "123456"}
  },
  "organizer": {"email": "Rep@Example.com", "name": "Rita Rep"},
  "creator": {"email": "rep@example.com", "name": "Rita Rep"}
}"#;

#[test]
fn a_realistic_google_event_maps_to_the_exact_record() {
    let record = map(&event(GOOGLE_EVENT));
    let expected = json!({
        "external_event_id": "5v0q7mbl8u1ep8sddq2bik3bkq_20260701T100000Z",
        "grant_id": "1e3288f6-124e-405d-a13a-635a2ee54eb2",
        "provider_calendar_id": "rep@example.com",
        "meeting_subject": "Acme <> Contoso: pricing review",
        "meeting_status": "confirmed",
        "meeting_date": "2026-07-01T10:00:00Z",
        "meeting_end_date": "2026-07-01T10:45:00Z",
        "duration_minutes": 45,
        "all_day": false,
        "timezone": "America/Los_Angeles",
        "meeting_location": "Conference Room 4B",
        "meeting_link": "https://meet.google.com/abc-defg-hij",
        "notes": "Hi all,\n\nAgenda:\n- Pricing & packaging\n- Next steps\n\nJoin with Google Meet: meet.google.com/abc-defg-hij",
        "organizer_email": "rep@example.com",
        // The owner is the policy's decision (`crm.owner`), not the mapping's.
        "owner_email": null,
        "attendees": [
            {"email": "buyer@prospect.com", "name": "Bea Buyer", "rsvp_status": "yes"},
            {"email": "cfo@prospect.com", "name": null, "rsvp_status": "noreply"},
            {"email": "rep@example.com", "name": "Rita Rep", "rsvp_status": "yes"},
            {"email": "room-4b@resource.calendar.google.com", "name": "Conference Room 4B", "rsvp_status": "maybe"}
        ],
        "is_recurring": true,
        "master_event_id": "5v0q7mbl8u1ep8sddq2bik3bkq",
        "series_label": "Series: Acme <> Contoso: pricing review",
        "ical_uid": "5v0q7mbl8u1ep8sddq2bik3bkq@google.com",
        "source_updated_at": "2026-06-30T09:00:00Z"
    });
    assert_eq!(serde_json::to_value(&record).unwrap(), expected);
}

#[test]
fn a_minimal_event_has_nulls_not_empty_strings() {
    let record = map(&event_with(json!({})));
    let value = serde_json::to_value(&record).unwrap();
    assert_eq!(value["grant_id"], GRANT);
    assert_eq!(value["meeting_subject"], UNTITLED);
    assert_eq!(value["meeting_status"], "confirmed");
    for field in [
        "provider_calendar_id",
        "timezone",
        "meeting_location",
        "meeting_link",
        "notes",
        "organizer_email",
        "master_event_id",
        "series_label",
        "ical_uid",
        "source_updated_at",
    ] {
        assert!(
            value[field].is_null(),
            "{field} should be null: {}",
            value[field]
        );
    }
    assert_eq!(value["attendees"], json!([]));
    assert_eq!(value["is_recurring"], false);
}

#[test]
fn titles_fall_back_to_untitled_and_are_trimmed() {
    let cases = [
        (json!({}), UNTITLED),
        (json!({"title": null}), UNTITLED),
        (json!({"title": ""}), UNTITLED),
        (json!({"title": " \t "}), UNTITLED),
        (json!({"title": "  Demo  "}), "Demo"),
        (json!({"title": 42}), "42"),
    ];
    for (extra, subject) in cases {
        let label = extra.to_string();
        assert_eq!(map(&event_with(extra)).meeting_subject, subject, "{label}");
    }
}

#[test]
fn statuses_map_leniently() {
    let cases = [
        (json!({"status": "confirmed"}), MeetingStatus::Confirmed),
        (json!({"status": "tentative"}), MeetingStatus::Tentative),
        (json!({"status": "maybe"}), MeetingStatus::Tentative),
        (json!({"status": "cancelled"}), MeetingStatus::Cancelled),
        (json!({"status": "Canceled"}), MeetingStatus::Cancelled),
        (json!({"status": "on_hold"}), MeetingStatus::Confirmed),
        (json!({}), MeetingStatus::Confirmed),
    ];
    for (extra, status) in cases {
        let label = extra.to_string();
        assert_eq!(map(&event_with(extra)).meeting_status, status, "{label}");
    }
}

#[test]
fn participants_are_filtered_normalised_and_deduplicated() {
    let record = map(&event_with(json!({"participants": [
        {"name": "No Email (Microsoft)", "status": "yes"},
        {"email": "  ", "name": "Blank"},
        {"email": " Ann@Example.COM ", "name": "  "},
        {"email": "bob@example.com", "name": "Bob", "status": "tentative"},
        {"email": "ANN@example.com", "name": "Ann again", "status": "yes"},
        {"email": "cy@example.com", "status": "declined_politely"},
        {"email": "di@example.com", "status": "no"},
        "not an object"
    ]})));
    let got: Vec<_> = record
        .attendees
        .iter()
        .map(|a| (a.email.as_str(), a.name.as_deref(), a.rsvp_status))
        .collect();
    assert_eq!(
        got,
        [
            ("ann@example.com", None, RsvpStatus::Noreply),
            ("bob@example.com", Some("Bob"), RsvpStatus::Maybe),
            ("cy@example.com", None, RsvpStatus::Noreply),
            ("di@example.com", None, RsvpStatus::No),
        ]
    );
}

#[test]
fn conferencing_quirks_never_crash() {
    let cases = [
        (json!({"conferencing": {}}), None),
        (json!({"conferencing": null}), None),
        (json!({"conferencing": {"provider": "Zoom Meeting"}}), None),
        (
            json!({"conferencing": {"provider": "Hangouts", "details": {}}}),
            None,
        ),
        (
            json!({"conferencing": {"provider": "Hangouts", "details": {"url": " https://hangouts.google.com/x "}}}),
            Some("https://hangouts.google.com/x"),
        ),
        (
            json!({"conferencing": {"provider": "Microsoft Teams", "details": {"url": "https://teams.microsoft.com/l/1", "phone": "odd"}}}),
            Some("https://teams.microsoft.com/l/1"),
        ),
        (json!({"conferencing": "Zoom"}), None),
    ];
    for (extra, link) in cases {
        let label = extra.to_string();
        assert_eq!(
            map(&event_with(extra)).meeting_link.as_deref(),
            link,
            "{label}"
        );
    }
}

#[test]
fn odd_time_zone_names_pass_through() {
    let record = map(&event(
        r#"{"id":"e","when":{"object":"time","time":1782900000,"timezone":"EST5EDT"}}"#,
    ));
    assert_eq!(record.timezone.as_deref(), Some("EST5EDT"));
    assert_eq!(record.duration_minutes, 0);
    assert_eq!(record.meeting_date, record.meeting_end_date);
}

#[test]
fn numbers_as_strings_and_unknown_fields_are_accepted() {
    let record = map(&event(
        r#"{"id":"e","updated_at":"1782810000","brand_new_field":{"x":[1,2]},
            "when":{"start_time":"1782900000","end_time":"1782903600"},
            "organizer":{"email":" Boss@Example.com"}}"#,
    ));
    assert_eq!(record.duration_minutes, 60);
    assert_eq!(
        record.source_updated_at,
        Some("2026-06-30T09:00:00Z".parse().unwrap())
    );
    assert_eq!(record.organizer_email.as_deref(), Some("boss@example.com"));
}

#[test]
fn recurrence_sets_is_recurring_and_series_label_only_for_occurrences() {
    let master = map(&event_with(json!({
        "title": "Weekly sync",
        "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=WE"],
    })));
    assert!(master.is_recurring);
    assert_eq!(master.series_label, None);
    assert_eq!(master.master_event_id, None);

    let occurrence = map(&event_with(json!({"master_event_id": "m1"})));
    assert!(occurrence.is_recurring);
    assert_eq!(occurrence.master_event_id.as_deref(), Some("m1"));
    assert_eq!(
        occurrence.series_label.as_deref(),
        Some("Series: Untitled meeting")
    );

    let single = map(&event_with(
        json!({"recurrence": [""], "master_event_id": ""}),
    ));
    assert!(!single.is_recurring);
}

#[test]
fn notes_come_from_html_or_plain_descriptions() {
    let cases = [
        (
            json!({"description": "<p>Hello&nbsp;<b>there</b></p>"}),
            Some("Hello there"),
        ),
        (
            json!({"description": "Plain\n\n\nas  is: a < b"}),
            Some("Plain\n\n\nas  is: a < b"),
        ),
        (json!({"description": "<p> </p><br>"}), None),
        (json!({"description": ""}), None),
        (json!({"description": null}), None),
    ];
    for (extra, notes) in cases {
        let label = extra.to_string();
        assert_eq!(map(&event_with(extra)).notes.as_deref(), notes, "{label}");
    }
}

#[test]
fn location_calendar_and_ical_uid_are_trimmed_or_null() {
    let record = map(&event_with(json!({
        "location": "  Room 1 ", "calendar_id": "c@group.calendar.google.com", "ical_uid": "",
        "grant_id": "own-grant",
    })));
    assert_eq!(record.meeting_location.as_deref(), Some("Room 1"));
    assert_eq!(
        record.provider_calendar_id.as_deref(),
        Some("c@group.calendar.google.com")
    );
    assert_eq!(record.ical_uid, None);
    assert_eq!(record.grant_id, "own-grant");
}

#[test]
fn unusable_events_are_errors() {
    let no_when = event(r#"{"id":"e","title":"x"}"#);
    assert!(matches!(
        map_event(&no_when, GRANT),
        Err(MappingError::MissingWhen)
    ));
    let null_when = event(r#"{"id":"e","when":null}"#);
    assert!(matches!(
        map_event(&null_when, GRANT),
        Err(MappingError::MissingWhen)
    ));
    let bad_date = event(r#"{"id":"e","when":{"object":"date","date":"2026-13-01"}}"#);
    let error = map_event(&bad_date, GRANT).unwrap_err();
    assert!(matches!(
        error,
        MappingError::InvalidDate { field: "date", .. }
    ));
    assert!(error.to_string().contains("2026-13-01"), "{error}");
    let no_id = event(r#"{"id":" ","when":{"time":1782900000}}"#);
    assert!(matches!(
        map_event(&no_id, GRANT),
        Err(MappingError::MissingId)
    ));
    let bad_version = event(r#"{"id":"e","updated_at":99999999999999,"when":{"time":1}}"#);
    assert!(matches!(
        map_event(&bad_version, GRANT),
        Err(MappingError::InvalidTimestamp {
            field: "updated_at",
            ..
        })
    ));
}
