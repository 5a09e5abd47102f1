use serde_json::json;

use super::*;
use crate::mapping;

fn calendar(id: &str, primary: bool, read_only: bool) -> Calendar {
    Calendar {
        id: id.to_string(),
        is_primary: Some(primary),
        read_only: Some(read_only),
        ..Calendar::default()
    }
}

#[test]
fn calendars_are_selected_by_configuration() {
    let all = || {
        vec![
            calendar("rep@seller.com", true, false),
            calendar("team@group.calendar.google.com", false, false),
            calendar("en.usa#holiday@group.v.calendar.google.com", false, true),
        ]
    };
    let ids = |calendars: Calendars| {
        (
            calendars
                .selected
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>(),
            calendars.excluded,
        )
    };
    assert_eq!(
        ids(select_calendars(all(), CalendarSelection::All, false))
            .0
            .len(),
        3
    );
    assert_eq!(
        ids(select_calendars(all(), CalendarSelection::All, true)),
        (
            vec![
                "rep@seller.com".to_string(),
                "team@group.calendar.google.com".to_string()
            ],
            1
        )
    );
    assert_eq!(
        ids(select_calendars(all(), CalendarSelection::Primary, false)),
        (vec!["rep@seller.com".to_string()], 2)
    );
}

#[test]
fn event_queries_ask_for_occurrences_and_cancelled_events_in_pages_of_200() {
    let window = Window {
        start: 100,
        end: 200,
    };
    let query = event_query("cal", window, Some(50), Some("next".into()));
    assert_eq!(query.limit, 200);
    assert_eq!((query.start, query.end), (100, 200));
    assert_eq!(query.updated_after, Some(50));
    assert_eq!(query.page_token.as_deref(), Some("next"));
    assert_eq!(query.expand_recurring, Some(true));
    assert_eq!(query.show_cancelled, Some(true));
}

#[test]
fn a_listed_event_round_trips_through_its_job_payload_unchanged_for_the_mapping() {
    let raw = json!({
        "id": "master_20240603T180000Z",
        "grant_id": "g1",
        "master_event_id": "master",
        "title": "Weekly sync",
        "description": "<p>Agenda</p>",
        "status": "cancelled",
        "updated_at": 1_717_000_000,
        "ical_uid": "master@example.com",
        "when": {"object": "timespan", "start_time": 1_717_437_600, "end_time": 1_717_441_200,
                 "start_timezone": "Europe/Berlin"},
        "participants": [{"email": "a@b.com", "status": "maybe"}, {"name": "Room"}],
        "organizer": {"email": "rep@seller.com"},
        "conferencing": {"provider": "Zoom Meeting", "details": {"url": "https://zoom.us/j/1"}},
        "metadata": {"ignored": "yes"}
    });
    let listed: Event = serde_json::from_value(raw).unwrap();
    let job = job_for(
        &listed,
        "g1",
        "team@group.calendar.google.com",
        JobSource::Backfill,
    )
    .unwrap();
    assert_eq!(job.record_key, "master_20240603T180000Z");
    assert_eq!(
        job.calendar_id.as_deref(),
        Some("team@group.calendar.google.com")
    );
    assert_eq!(job.origin, PayloadOrigin::EventsApi);
    assert_eq!(job.action, JobAction::Upsert);
    assert_eq!(job.version, Some(1_717_000_000));
    let decoded: Event = job.payload.unwrap().parse().unwrap();
    let before = mapping::map_event(&listed, "g1").unwrap();
    let after = mapping::map_event(&decoded, "g1").unwrap();
    assert_eq!(before, after);
    assert_eq!(before.content_hash(), after.content_hash());
}

#[test]
fn events_without_an_id_make_no_job() {
    let events = vec![
        Event {
            id: String::new(),
            ..Event::default()
        },
        Event {
            id: "e1".into(),
            calendar_id: Some("own".into()),
            ..Event::default()
        },
    ];
    let jobs = jobs_for_page(&events, "g1", "listed", JobSource::Reconcile);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].calendar_id.as_deref(), Some("own"));
    assert_eq!(jobs[0].source, JobSource::Reconcile);
}
