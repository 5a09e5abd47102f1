//! The relevance filters and calendar selection, on events that arrive by webhook.

use calsync::config::{CalendarSelection, FilterSettings, TitlePattern};
use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::{Value, json};

use super::{crm_calls, filtered, meeting_calls};
use crate::support::crm_app::{CALENDAR, GRANT, publish};
use crate::support::harness::{CrmFake, TestApp};
use crate::support::payloads::event;

/// The grant's own address, as the fake Nylas gives it.
const OWNER: &str = "grant-1@seller.com";

/// One event per filter, each caught by that filter only, and one that no filter catches.
fn cases() -> Vec<(&'static str, Value)> {
    let base = |id: &str| event(id, GRANT, CALENDAR, "Discovery call", 100);
    let mut free = base("free");
    free["busy"] = json!(false);
    let mut declined = base("declined");
    declined["participants"] = json!([
        {"email": "buyer@prospect.com", "status": "yes"},
        {"email": OWNER, "status": "no"}
    ]);
    let mut all_day = base("all-day");
    all_day["when"] = json!({"object": "date", "date": "2026-07-01"});
    let mut focus = base("focus");
    focus["event_type"] = json!("focusTime");
    let lunch = event("lunch", GRANT, CALENDAR, "Lunch with Sam", 100);
    let mut internal = base("internal");
    internal["participants"] = json!([{"email": "boss@seller.com", "status": "yes"}]);
    vec![
        ("keep", base("keep")),
        ("free", free),
        ("declined", declined),
        ("all-day", all_day),
        ("focus", focus),
        ("lunch", lunch),
        ("internal", internal),
    ]
}

/// An app writing to the REST fake with these filters, knowing the grant's address.
async fn filtered_app(filter: FilterSettings) -> TestApp {
    let app = TestApp::builder()
        .env("CALSYNC__SYNC__INTERNAL_DOMAINS", "seller.io")
        .with_config(move |settings| settings.filter = filter)
        .spawn()
        .await;
    app.nylas.put_grant(GRANT, "valid");
    app
}

/// No filter at all (not even the default event types).
fn none() -> FilterSettings {
    FilterSettings {
        skip_event_types: Vec::new(),
        ..FilterSettings::default()
    }
}

#[tokio::test]
async fn each_filter_excludes_what_it_names_and_nothing_else() {
    let only = |change: fn(&mut FilterSettings)| {
        let mut filter = none();
        change(&mut filter);
        filter
    };
    let runs: Vec<(FilterSettings, Option<(&str, &str)>)> = vec![
        (none(), None),
        (only(|f| f.skip_free = true), Some(("free", "free"))),
        (
            only(|f| f.skip_declined = true),
            Some(("declined", "declined")),
        ),
        (
            only(|f| f.skip_all_day = true),
            Some(("all-day", "all_day")),
        ),
        (FilterSettings::default(), Some(("focus", "event_type"))),
        (
            only(|f| f.skip_titles = vec![TitlePattern::new("(?i)^lunch\\b").unwrap()]),
            Some(("lunch", "title")),
        ),
        (
            only(|f| f.require_external_attendee = true),
            Some(("internal", "no_external_attendee")),
        ),
    ];
    for (filter, excluded) in runs {
        let app = filtered_app(filter).await;
        for (index, (_, case)) in cases().iter().enumerate() {
            publish(&app, &format!("n{index}"), "event.created", case).await;
        }
        app.drain().await;
        let mut live: Vec<String> = app
            .crm
            .live_records()
            .into_iter()
            .map(|record| record.external_event_id)
            .collect();
        live.sort();
        let mut expected: Vec<String> = cases()
            .into_iter()
            .map(|(id, _)| id.to_owned())
            .filter(|id| Some(id.as_str()) != excluded.map(|(id, _)| id))
            .collect();
        expected.sort();
        assert_eq!(live, expected, "{excluded:?}");
        // One create per kept event, nothing for the excluded one.
        assert_eq!(
            crm_calls(&app, CrmFake::Rest),
            expected.len(),
            "{excluded:?}"
        );
        for reason in [
            "free",
            "declined",
            "all_day",
            "event_type",
            "title",
            "no_external_attendee",
        ] {
            let wanted = u64::from(excluded.is_some_and(|(_, named)| named == reason));
            assert_eq!(
                filtered(&app, reason).await,
                wanted,
                "{reason} in {excluded:?}"
            );
        }
    }
}

#[tokio::test]
async fn an_event_leaving_a_filter_loses_its_record_and_one_entering_it_gets_one_again() {
    let filter = FilterSettings {
        require_external_attendee: true,
        skip_free: true,
        ..FilterSettings::default()
    };
    let app = filtered_app(filter).await;
    let mut meeting = event("evt-1", GRANT, CALENDAR, "Discovery call", 100);
    publish(&app, "n1", "event.created", &meeting).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);

    // Its only customer removed: the record goes, like a deleted event's.
    meeting["participants"] = json!([{"email": "boss@seller.com", "status": "yes"}]);
    meeting["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &meeting).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Deleted)]);
    assert!(app.crm.live_records().is_empty());

    // Edited while filtered: nothing to write, nothing to delete, no CRM call.
    meeting["title"] = json!("Internal prep");
    meeting["updated_at"] = json!(300);
    publish(&app, "n3", "event.updated", &meeting).await;
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::NothingToDelete)]
    );

    // The customer back: a record again, current.
    meeting["participants"] = json!([{"email": "buyer@prospect.com", "status": "yes"}]);
    meeting["updated_at"] = json!(400);
    publish(&app, "n4", "event.updated", &meeting).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let live = app.crm.live_records();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].body["meeting_subject"], "Internal prep");

    // Marked free: gone again.
    meeting["busy"] = json!(false);
    meeting["updated_at"] = json!(500);
    publish(&app, "n5", "event.updated", &meeting).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Deleted)]);
    assert!(app.crm.live_records().is_empty());
    assert_eq!(
        meeting_calls(&app, CrmFake::Rest),
        [
            "POST /api/meetings",
            "DELETE /api/meetings",
            // The record calsync removed is gone from the CRM: the update finds nothing (404)
            // and the meeting is created again.
            "PUT /api/meetings",
            "POST /api/meetings",
            "DELETE /api/meetings",
        ]
    );
    assert_eq!(filtered(&app, "no_external_attendee").await, 2);
    assert_eq!(filtered(&app, "free").await, 1);
}

const HOLIDAYS: &str = "en.usa#holiday@group.v.calendar.google.com";

/// An app with this calendar selection, the grant's calendars in Nylas: its primary one, the
/// team calendar and a read-only holiday calendar.
async fn calendars_app(selection: CalendarSelection, exclude_read_only: bool) -> TestApp {
    let app = TestApp::builder()
        .with_config(move |settings| {
            settings.sync.calendars = selection;
            settings.sync.exclude_read_only_calendars = exclude_read_only;
        })
        .spawn()
        .await;
    app.nylas.put_calendar(GRANT, OWNER, true, false);
    app.nylas.put_calendar(GRANT, CALENDAR, false, false);
    app.nylas.put_calendar(GRANT, HOLIDAYS, false, true);
    app
}

fn holiday(id: &str) -> Value {
    let mut holiday = event(id, GRANT, HOLIDAYS, "Independence Day", 100);
    holiday["when"] = json!({"object": "date", "date": "2026-07-04"});
    holiday["participants"] = json!([]);
    holiday
}

#[tokio::test]
async fn a_burst_of_holiday_notifications_on_a_read_only_calendar_costs_one_listing_and_no_crm_call()
 {
    let app = calendars_app(CalendarSelection::All, true).await;
    for index in 0..5 {
        let id = format!("holiday-{index}");
        publish(&app, &format!("n{index}"), "event.created", &holiday(&id)).await;
    }
    let team = event("evt-team", GRANT, CALENDAR, "Pipeline review", 100);
    publish(&app, "n-team", "event.created", &team).await;
    let settled = app.drain().await;
    let skipped = Settled::Done(SyncOutcome::NothingToDelete);
    assert_eq!(
        settled.iter().filter(|s| **s == skipped).count(),
        5,
        "{settled:?}"
    );
    assert!(settled.contains(&Settled::Done(SyncOutcome::Created)));
    assert_eq!(meeting_calls(&app, CrmFake::Rest), ["POST /api/meetings"]);
    assert_eq!(filtered(&app, "read_only_calendar").await, 5);
    assert_eq!(app.nylas.list_requests("calendars").len(), 1);

    // A calendar added since the listing is looked up again, once.
    let added = "added@group.calendar.google.com";
    app.nylas.put_calendar(GRANT, added, false, true);
    let mut elsewhere = holiday("added-1");
    elsewhere["calendar_id"] = json!(added);
    publish(&app, "n-added", "event.created", &elsewhere).await;
    assert_eq!(app.drain().await, vec![skipped]);
    assert_eq!(app.nylas.list_requests("calendars").len(), 2);
    assert_eq!(filtered(&app, "read_only_calendar").await, 6);
}

#[tokio::test]
async fn with_primary_only_a_notification_from_another_calendar_writes_nothing() {
    let app = calendars_app(CalendarSelection::Primary, false).await;
    let team = event("evt-team", GRANT, CALENDAR, "Pipeline review", 100);
    publish(&app, "n1", "event.created", &team).await;
    let own = event("evt-own", GRANT, OWNER, "Discovery call", 100);
    publish(&app, "n2", "event.created", &own).await;
    let settled = app.drain().await;
    assert_eq!(settled.len(), 2);
    let live: Vec<String> = app
        .crm
        .live_records()
        .into_iter()
        .map(|record| record.external_event_id)
        .collect();
    assert_eq!(live, ["evt-own"]);
    assert_eq!(meeting_calls(&app, CrmFake::Rest), ["POST /api/meetings"]);
    assert_eq!(filtered(&app, "not_primary_calendar").await, 1);
    assert_eq!(app.nylas.list_requests("calendars").len(), 1);
}
