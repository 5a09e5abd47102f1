//! A weekly series in the fake Nylas: a master with a recurrence rule and its occurrences
//! (Google-style ids `<master>_<start>`, `master_event_id`, `original_start_time`).

use calsync::store::{JobAction, JobRequest, JobSource, PayloadOrigin};
use serde_json::{Value, json};

use crate::support::fake_nylas::FakeNylas;
use crate::support::harness::TestApp;
use crate::support::payloads::{envelope, event_at};

pub const G1: &str = "g1";
pub const CAL: &str = "rep@seller.com";
pub const MASTER: &str = "wk";
pub const DAY: i64 = 86_400;
pub const WEEK: i64 = 7 * DAY;

/// A weekly series whose first occurrence starts at `first`.
#[derive(Debug, Clone, Copy)]
pub struct Weekly {
    pub first: i64,
    pub weeks: i64,
    pub version: i64,
}

impl Weekly {
    /// The start of occurrence `k`.
    pub fn start(&self, k: i64) -> i64 {
        self.first + k * WEEK
    }

    /// The id of occurrence `k`.
    pub fn id(&self, k: i64) -> String {
        let at = jiff::Timestamp::from_second(self.start(k)).unwrap();
        format!("{MASTER}_{}", at.strftime("%Y%m%dT%H%M%SZ"))
    }

    /// The master, with `exdates` (occurrence numbers) excluded.
    pub fn master(&self, exdates: &[i64]) -> Value {
        let mut master = event_at(MASTER, G1, CAL, self.first, self.version);
        master["title"] = json!("Weekly pipeline review");
        let mut rules = vec![json!(format!("RRULE:FREQ=WEEKLY;COUNT={}", self.weeks))];
        for k in exdates {
            let at = jiff::Timestamp::from_second(self.start(*k)).unwrap();
            rules.push(json!(format!("EXDATE:{}", at.strftime("%Y%m%dT%H%M%SZ"))));
        }
        master["recurrence"] = json!(rules);
        master
    }

    /// Occurrence `k`.
    pub fn occurrence(&self, k: i64) -> Value {
        let mut occurrence = event_at(&self.id(k), G1, CAL, self.start(k), self.version);
        occurrence["title"] = json!("Weekly pipeline review");
        occurrence["master_event_id"] = json!(MASTER);
        occurrence["original_start_time"] = json!(self.start(k));
        occurrence
    }

    /// Puts the master and every occurrence into `nylas`.
    pub fn put(&self, nylas: &FakeNylas) {
        nylas.put_event(self.master(&[]));
        for k in 0..self.weeks {
            nylas.put_event(self.occurrence(k));
        }
    }

    /// The ids of occurrences `range`.
    pub fn ids(&self, range: std::ops::Range<i64>) -> Vec<String> {
        range.map(|k| self.id(k)).collect()
    }
}

/// The grant and its calendar, as listings show them.
pub fn account(nylas: &FakeNylas) {
    nylas.put_grant(G1, "valid");
    nylas.put_calendar(G1, CAL, true, false);
}

/// Notifies `trigger` for `object` (a new notification id each time).
pub async fn notify(app: &TestApp, id: &str, trigger: &str, object: Value) {
    assert_eq!(app.notify(&envelope(id, trigger, object)).await, 200);
}

/// The external ids of the CRM's live records, sorted.
pub fn live_ids(app: &TestApp) -> Vec<String> {
    let mut ids: Vec<String> = app
        .crm
        .live_records()
        .into_iter()
        .map(|record| record.external_event_id)
        .collect();
    ids.sort();
    ids
}

/// A listed event as the upsert job an earlier calsync (no series handling) enqueued for it.
pub fn legacy_job(event: &Value) -> JobRequest {
    JobRequest {
        record_key: event["id"].as_str().unwrap().into(),
        grant_id: G1.into(),
        calendar_id: Some(CAL.to_string()),
        action: JobAction::Upsert,
        payload: Some(event.into()),
        origin: PayloadOrigin::EventsApi,
        version: event["updated_at"].as_i64(),
        force_fetch: false,
        source: JobSource::Backfill,
        notification_id: None,
    }
}
