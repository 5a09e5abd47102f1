//! The Nylas account the backfill tests read: three grants (one invalid), calendars with cursor
//! paging (a Google group calendar, a read-only holiday calendar), a calendar of more than three
//! pages, events outside the window, and a recurring series with a cancelled occurrence.

use std::collections::BTreeSet;

use calsync::backfill::{BackfillOptions, Window};
use serde_json::{Value, json};

use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::payloads::event_at;

/// 2026-06-21T00:00:00Z.
pub const T0: i64 = 1_782_000_000;
pub const DAY: i64 = 86_400;
pub const ALPHA: &str = "g-alpha";
pub const BETA: &str = "g-beta";
pub const GAMMA: &str = "g-gamma";
pub const REP: &str = "rep@seller.com";
pub const TEAM: &str = "team@group.calendar.google.com";
pub const HOLIDAYS: &str = "en.usa#holiday@group.v.calendar.google.com";
pub const BETA_CAL: &str = "beta@seller.com";
/// Events per page in the fake (the request still says `limit=200`).
pub const PAGE: usize = 4;
/// Events listed in the team calendar: 14 single events and 3 occurrences.
pub const TEAM_EVENTS: usize = 17;

/// The 30-day window the tests read.
pub fn window() -> Window {
    Window {
        start: T0,
        end: T0 + 30 * DAY,
    }
}

/// Options for a backfill of the window.
pub fn options(grants: &[&str]) -> BackfillOptions {
    BackfillOptions {
        window: window(),
        grants: grants.iter().map(|g| g.to_string()).collect(),
        concurrency: 2,
    }
}

/// The occurrence id of the series `weekly` in week `k`.
pub fn occurrence(k: i64) -> String {
    let start = T0 + DAY + k * 7 * DAY + 18 * 3_600;
    let at = jiff::Timestamp::from_second(start).unwrap();
    format!("weekly_{}", at.strftime("%Y%m%dT%H%M%SZ"))
}

/// Fills `nylas` and returns the ids the backfill of [`window`] must sync.
pub fn populate(nylas: &FakeNylas) -> BTreeSet<String> {
    nylas.set_page_sizes(PAGE, 2);
    nylas.put_grant(ALPHA, "valid");
    nylas.put_grant(BETA, "valid");
    nylas.put_grant(GAMMA, "invalid");
    nylas.put_calendar(ALPHA, REP, true, false);
    nylas.put_calendar(ALPHA, TEAM, false, false);
    nylas.put_calendar(ALPHA, HOLIDAYS, false, true);
    nylas.put_calendar(BETA, BETA_CAL, true, false);
    nylas.put_calendar(GAMMA, "gamma@seller.com", true, false);
    let mut expected = BTreeSet::new();
    let mut put = |event: Value, synced: bool| {
        if synced {
            expected.insert(event["id"].as_str().unwrap().to_string());
        }
        nylas.put_event(event);
    };
    for i in 0..14 {
        put(
            event_at(
                &format!("team-{i:02}"),
                ALPHA,
                TEAM,
                T0 + i * 3_600 + 600,
                100,
            ),
            true,
        );
    }
    put(event_at("team-before", ALPHA, TEAM, T0 - DAY, 100), false);
    put(
        event_at("team-after", ALPHA, TEAM, T0 + 31 * DAY, 100),
        false,
    );
    put(series_master(), false);
    for k in 0..3 {
        put(series_occurrence(k), true);
    }
    for i in 0..3 {
        put(
            event_at(
                &format!("rep-{i}"),
                ALPHA,
                REP,
                T0 + 2 * DAY + i * 3_600,
                100,
            ),
            true,
        );
    }
    for i in 0..2 {
        put(
            event_at(
                &format!("holiday-{i}"),
                ALPHA,
                HOLIDAYS,
                T0 + 3 * DAY + i * DAY,
                100,
            ),
            false,
        );
        put(
            event_at(
                &format!("beta-{i}"),
                BETA,
                BETA_CAL,
                T0 + 4 * DAY + i * 3_600,
                100,
            ),
            true,
        );
        put(
            event_at(
                &format!("gamma-{i}"),
                GAMMA,
                "gamma@seller.com",
                T0 + 5 * DAY,
                100,
            ),
            false,
        );
    }
    expected
}

fn series_master() -> Value {
    let mut master = event_at("weekly", ALPHA, TEAM, T0 + DAY + 18 * 3_600, 100);
    master["title"] = json!("Weekly pipeline review");
    master["recurrence"] = json!(["RRULE:FREQ=WEEKLY;COUNT=3"]);
    master
}

fn series_occurrence(k: i64) -> Value {
    let start = T0 + DAY + k * 7 * DAY + 18 * 3_600;
    let mut occurrence_event = event_at(&occurrence(k), ALPHA, TEAM, start, 100);
    occurrence_event["title"] = json!("Weekly pipeline review");
    occurrence_event["master_event_id"] = json!("weekly");
    occurrence_event["original_start_time"] = json!(start);
    if k == 1 {
        occurrence_event["status"] = json!("cancelled");
    }
    occurrence_event
}

/// The external ids of the live CRM records; panics on a duplicate.
pub fn synced(crm: &FakeCrm) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for record in crm.all_records() {
        assert!(
            ids.insert(record.external_event_id.clone()),
            "duplicate CRM record for {}",
            record.external_event_id
        );
    }
    ids
}
