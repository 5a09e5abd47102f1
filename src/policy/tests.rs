//! Unit tests of the policy: each filter, privacy mode, room handling and owner rule decides
//! what it names and nothing else.

use serde_json::json;

use super::*;
use crate::config::{OwnerRule, TitlePattern};
use crate::telemetry::metrics::FILTER_REASONS;

fn event(extra: serde_json::Value) -> Event {
    let mut base = json!({
        "id": "evt-1",
        "grant_id": "g1",
        "calendar_id": "primary",
        "title": "Discovery call",
        "description": "Notes: insurance 12345",
        "location": "HQ",
        "busy": true,
        "when": {"object": "timespan", "start_time": 1_782_900_000, "end_time": 1_782_902_700},
        "participants": [
            {"email": "buyer@prospect.com", "status": "yes"},
            {"email": "rep@seller.com", "status": "yes"}
        ],
        "organizer": {"email": "rep@seller.com"},
        "conferencing": {"provider": "Zoom Meeting", "details": {"url": "https://zoom.us/j/1"}}
    });
    for (key, value) in extra.as_object().unwrap() {
        base[key] = value.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn record(event: &Event) -> MeetingRecord {
    mapping::map_event(event, "g1").unwrap()
}

#[test]
fn every_reason_has_a_metric_label() {
    let reasons = [
        SkipReason::Private,
        SkipReason::NotPrimaryCalendar,
        SkipReason::ReadOnlyCalendar,
        SkipReason::EventType,
        SkipReason::AllDay,
        SkipReason::Free,
        SkipReason::Title,
        SkipReason::Declined,
        SkipReason::NoExternalAttendee,
    ];
    for reason in reasons {
        assert!(FILTER_REASONS.contains(&reason.as_str()), "{reason:?}");
    }
}

#[test]
fn private_and_confidential_events_are_redacted_to_times_status_and_attendees() {
    for visibility in ["private", "Confidential"] {
        let private = event(json!({"visibility": visibility, "master_event_id": "m1"}));
        assert!(privacy::is_private(&private));
        let mut redacted = record(&private);
        privacy::redact(&mut redacted);
        assert_eq!(redacted.meeting_subject, "Private meeting");
        assert_eq!(redacted.notes, None);
        assert_eq!(redacted.meeting_location, None);
        assert_eq!(redacted.meeting_link, None);
        assert_eq!(
            redacted.series_label.as_deref(),
            Some("Series: Private meeting")
        );
        assert!(redacted.private);
        assert_eq!(redacted.attendees.len(), 2);
        assert_eq!(redacted.meeting_date, record(&private).meeting_date);
        assert_ne!(redacted.content_hash(), record(&private).content_hash());
    }
    assert!(!privacy::is_private(&event(
        json!({"visibility": "public"})
    )));
    assert!(!privacy::is_private(&event(json!({}))));
}

#[test]
fn rooms_leave_the_attendees_and_name_the_location_when_there_is_none() {
    let with_rooms = event(json!({
        "location": null,
        "participants": [
            {"email": "buyer@prospect.com"},
            {"email": "c_1889@resource.calendar.google.com", "name": "Berlin-4-Ocean (8)"},
            {"email": "projector@seller.com", "name": "Projector"}
        ],
        "resources": [{"email": "Projector@seller.com", "name": "Projector"}]
    }));
    let mut meeting = record(&with_rooms);
    rooms::set_rooms_aside(&with_rooms, &mut meeting);
    let emails: Vec<&str> = meeting.attendees.iter().map(|a| a.email.as_str()).collect();
    assert_eq!(emails, ["buyer@prospect.com"]);
    assert_eq!(
        meeting.meeting_location.as_deref(),
        Some("Projector, Berlin-4-Ocean (8)")
    );

    let located = event(json!({
        "participants": [{"email": "c_1@resource.calendar.google.com", "name": "Room"}]
    }));
    let mut meeting = record(&located);
    rooms::set_rooms_aside(&located, &mut meeting);
    assert!(meeting.attendees.is_empty());
    assert_eq!(meeting.meeting_location.as_deref(), Some("HQ"));
}

#[test]
fn each_event_filter_excludes_what_it_names_and_nothing_else() {
    let off = FilterSettings {
        skip_event_types: Vec::new(),
        ..FilterSettings::default()
    };
    let all_day = event(json!({"when": {"object": "date", "date": "2026-07-01"}}));
    let free = event(json!({"busy": false}));
    let lunch = event(json!({"title": "Lunch with Sam"}));
    let focus = event(json!({"event_type": "focusTime"}));
    let plain = event(json!({}));
    for candidate in [&all_day, &free, &lunch, &focus, &plain] {
        assert_eq!(
            relevance::event_filters(&off, candidate, &record(candidate)),
            None
        );
    }
    let check = |filter: &FilterSettings, candidate: &Event| {
        relevance::event_filters(filter, candidate, &record(candidate))
    };
    let defaults = FilterSettings::default();
    assert_eq!(check(&defaults, &focus), Some(SkipReason::EventType));
    assert_eq!(
        check(&defaults, &event(json!({"event_type": "OUTOFOFFICE"}))),
        Some(SkipReason::EventType)
    );
    assert_eq!(
        check(&defaults, &event(json!({"event_type": "default"}))),
        None
    );
    let skip_all_day = FilterSettings {
        skip_all_day: true,
        ..off.clone()
    };
    assert_eq!(check(&skip_all_day, &all_day), Some(SkipReason::AllDay));
    assert_eq!(check(&skip_all_day, &plain), None);
    let skip_free = FilterSettings {
        skip_free: true,
        ..off.clone()
    };
    assert_eq!(check(&skip_free, &free), Some(SkipReason::Free));
    assert_eq!(check(&skip_free, &event(json!({"busy": null}))), None);
    assert_eq!(check(&skip_free, &plain), None);
    let titles = FilterSettings {
        skip_titles: vec![TitlePattern::new("(?i)^lunch\\b").unwrap()],
        ..off.clone()
    };
    assert_eq!(check(&titles, &lunch), Some(SkipReason::Title));
    assert_eq!(
        check(&titles, &event(json!({"title": "Launch plan"}))),
        None
    );
    assert_eq!(check(&titles, &plain), None);
}

#[test]
fn declined_means_the_grant_owner_answered_no() {
    let declined = event(json!({"participants": [
        {"email": "buyer@prospect.com", "status": "yes"},
        {"email": "Rep@Seller.com ", "status": "no"}
    ]}));
    assert!(relevance::declined_by_owner(&declined, "rep@seller.com"));
    assert!(!relevance::declined_by_owner(&declined, "other@seller.com"));
    assert!(!relevance::declined_by_owner(
        &event(json!({})),
        "rep@seller.com"
    ));
}

#[test]
fn external_means_outside_the_internal_domains_and_the_owner_domain() {
    let internal = vec!["seller.io".to_string()];
    let owner = Some("rep@seller.com");
    let external = record(&event(json!({})));
    assert!(relevance::has_external_attendee(
        &external, &internal, owner
    ));
    let colleagues = record(&event(json!({"participants": [
        {"email": "boss@seller.com"}, {"email": "cto@eu.seller.io"}
    ]})));
    assert!(!relevance::has_external_attendee(
        &colleagues,
        &internal,
        owner
    ));
    // The organizer counts: a prospect inviting the rep is an external meeting.
    let invited = record(&event(json!({
        "participants": [{"email": "rep@seller.com"}],
        "organizer": {"email": "buyer@prospect.com"}
    })));
    assert!(relevance::has_external_attendee(&invited, &internal, owner));
    // A consumer mail domain does not make every other user of it a colleague.
    let gmail = record(&event(
        json!({"participants": [{"email": "friend@gmail.com"}], "organizer": {"email": "me@gmail.com"}}),
    ));
    assert!(relevance::has_external_attendee(
        &gmail,
        &[],
        Some("me@gmail.com")
    ));
}

#[test]
fn the_owner_is_a_colleague_organizer_else_the_calendar_owner() {
    let internal = vec!["seller.io".to_string()];
    let owner_of = |rule: OwnerRule, organizer: &str, grant: Option<&str>| {
        let meeting = record(&event(json!({"organizer": {"email": organizer}})));
        ownership::owner_email(rule, &meeting, &internal, grant)
    };
    let grant = Some("rep@seller.com");
    let org = OwnerRule::Organizer;
    assert_eq!(
        owner_of(org, "Boss@Seller.com", grant).as_deref(),
        Some("boss@seller.com")
    );
    assert_eq!(
        owner_of(org, "cto@eu.seller.io", grant).as_deref(),
        Some("cto@eu.seller.io")
    );
    assert_eq!(
        owner_of(org, "buyer@prospect.com", grant).as_deref(),
        Some("rep@seller.com")
    );
    assert_eq!(owner_of(org, "buyer@prospect.com", None), None);
    // A rep on a consumer domain owns what others on that domain organize.
    let gmail = Some("me@gmail.com");
    assert_eq!(
        owner_of(org, "friend@gmail.com", gmail).as_deref(),
        Some("me@gmail.com")
    );
    assert_eq!(
        owner_of(org, "me@gmail.com", gmail).as_deref(),
        Some("me@gmail.com")
    );
    let grant_rule = OwnerRule::Grant;
    assert_eq!(
        owner_of(grant_rule, "boss@seller.com", grant).as_deref(),
        Some("rep@seller.com")
    );
    assert_eq!(owner_of(OwnerRule::None, "boss@seller.com", grant), None);
}
