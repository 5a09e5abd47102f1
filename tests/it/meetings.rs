//! One meeting, one record, whichever connected grants hold a copy of it (issue 9): the real
//! router and worker against the fake Nylas (several grants, shared and distinct event ids, one
//! `ical_uid`) and the fake CRM, with exact CRM call counts.
//!
//! - Google gives every attendee's copy the organizer's event id: an attendee deleting their
//!   copy keeps the meeting; the organizer deleting theirs removes it.
//! - Microsoft gives each mailbox its own id: organizer and attendee copies make one record,
//!   created once, updated from the newest copy (the organizer's on a tie), removed when both
//!   are deleted.
//! - Two grants' copies processed at the same moment (two workers, or two replicas on
//!   PostgreSQL) still make one record.
//! - [`adoption`]: copies found by backfill, and records written before the upgrade.

mod adoption;
mod filtered;

use std::time::Duration;

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::{Value, json};

use crate::support::harness::TestApp;
use crate::support::payloads::{deleted_object, envelope, event, grant_envelope};
use crate::support::postgres::TestDatabase;

pub const ORGANIZER: &str = "grant-organizer";
pub const ATTENDEE: &str = "grant-attendee";
pub const CALENDAR: &str = "primary";
pub const UID: &str = "040000008200E00074C5B7101A82E008@outlook.com";

/// A copy of the meeting in `grant`'s calendar with event id `id`, organized by
/// [`ORGANIZER`]'s mailbox.
pub fn copy(id: &str, grant: &str, title: &str, updated_at: i64) -> Value {
    let mut copy = event(id, grant, CALENDAR, title, updated_at);
    copy["ical_uid"] = json!(UID);
    copy["organizer"] = json!({"email": format!("{ORGANIZER}@seller.com"), "name": "Olga"});
    copy
}

/// Both grants connected (the fake's grants have `<id>@seller.com` addresses).
pub async fn two_grants() -> TestApp {
    let app = TestApp::spawn().await;
    app.nylas.put_grant(ORGANIZER, "valid");
    app.nylas.put_grant(ATTENDEE, "valid");
    app
}

/// Puts the copy in Nylas and notifies it.
pub async fn publish(app: &TestApp, notification: &str, trigger: &str, copy: &Value) {
    app.nylas.put_event(copy.clone());
    app.notify(&envelope(notification, trigger, copy.clone()))
        .await;
}

/// Removes the copy from Nylas and notifies its deletion.
pub async fn delete(app: &TestApp, notification: &str, id: &str, grant: &str) {
    app.nylas.remove_event(grant, id);
    let deleted = deleted_object(id, grant, CALENDAR);
    app.notify(&envelope(notification, "event.deleted", deleted))
        .await;
}

pub fn done(outcome: SyncOutcome) -> Vec<Settled> {
    vec![Settled::Done(outcome)]
}

/// (POST, PUT, DELETE) sent to the CRM so far.
pub fn calls(app: &TestApp) -> (usize, usize, usize) {
    (
        app.crm.count("POST"),
        app.crm.count("PUT"),
        app.crm.count("DELETE"),
    )
}

#[tokio::test]
async fn google_an_attendee_deleting_their_copy_keeps_the_meeting_until_the_organizer_does() {
    let app = two_grants().await;
    publish(
        &app,
        "n1",
        "event.created",
        &copy("g-evt", ORGANIZER, "Demo", 100),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Created));
    publish(
        &app,
        "n2",
        "event.created",
        &copy("g-evt", ATTENDEE, "Demo", 100),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Unchanged));
    assert_eq!(
        calls(&app),
        (1, 0, 0),
        "the attendee's copy costs no CRM call"
    );

    delete(&app, "n3", "g-evt", ATTENDEE).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Unchanged));
    assert_eq!(calls(&app), (1, 0, 0), "the meeting still happens");
    let live = app.crm.live_records();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].body["external_event_id"], "g-evt");

    delete(&app, "n4", "g-evt", ORGANIZER).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Deleted));
    assert_eq!(calls(&app), (1, 0, 1));
    assert!(app.crm.live_records().is_empty());
    assert_eq!(app.crm.all_records().len(), 1);
}

#[tokio::test]
async fn microsoft_copies_with_their_own_ids_make_one_record_created_once() {
    let app = two_grants().await;
    publish(
        &app,
        "n1",
        "event.created",
        &copy("ms-org", ORGANIZER, "Demo", 100),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Created));
    publish(
        &app,
        "n2",
        "event.created",
        &copy("ms-att", ATTENDEE, "Demo", 100),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Unchanged));
    assert_eq!(calls(&app), (1, 0, 0), "the second copy costs no create");
    assert!(app.crm.records_for("ms-att").is_empty());

    // The organizer moves the meeting: the one record follows.
    publish(
        &app,
        "n3",
        "event.updated",
        &copy("ms-org", ORGANIZER, "Demo (moved)", 200),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Updated));
    assert_eq!(calls(&app), (1, 1, 0));
    let records = app.crm.records_for("ms-org");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].body["meeting_subject"], "Demo (moved)");

    // The attendee's copy, older, changes nothing; deleting it neither.
    publish(
        &app,
        "n4",
        "event.updated",
        &copy("ms-att", ATTENDEE, "Demo", 150),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Unchanged));
    delete(&app, "n5", "ms-att", ATTENDEE).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Unchanged));
    assert_eq!(calls(&app), (1, 1, 0));

    delete(&app, "n6", "ms-org", ORGANIZER).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Deleted));
    assert_eq!(calls(&app), (1, 1, 1));
    assert!(app.crm.live_records().is_empty());
    assert_eq!(app.crm.all_records().len(), 1, "one record, ever");
}

#[tokio::test]
async fn on_a_tie_of_versions_the_organizers_copy_wins() {
    let app = two_grants().await;
    publish(
        &app,
        "n1",
        "event.created",
        &copy("ms-att", ATTENDEE, "Demo (as seen by Ann)", 100),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Created));
    publish(
        &app,
        "n2",
        "event.created",
        &copy("ms-org", ORGANIZER, "Demo", 100),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Updated));
    let records = app.crm.records_for("ms-att");
    assert_eq!(
        records.len(),
        1,
        "the record keeps the key it was created with"
    );
    assert_eq!(records[0].body["meeting_subject"], "Demo");
    assert_eq!(calls(&app), (1, 1, 0));

    // The answer is remembered: the next tie asks Nylas nothing more.
    let lookups = |app: &TestApp| {
        app.nylas
            .requests()
            .iter()
            .filter(|path| !path.contains("/events"))
            .count()
    };
    assert_eq!(lookups(&app), 2, "one lookup per grant");
    publish(
        &app,
        "n3",
        "event.updated",
        &copy("ms-att", ATTENDEE, "Demo (as seen by Ann)", 100),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Unchanged));
    assert_eq!(lookups(&app), 2);
}

#[tokio::test]
async fn every_copy_cancelled_cancels_the_meeting_and_one_live_copy_keeps_it() {
    let app = two_grants().await;
    publish(
        &app,
        "n1",
        "event.created",
        &copy("ms-org", ORGANIZER, "Demo", 100),
    )
    .await;
    publish(
        &app,
        "n2",
        "event.created",
        &copy("ms-att", ATTENDEE, "Demo", 100),
    )
    .await;
    app.drain().await;

    // Microsoft: the organizer deletes the meeting; the invitee's copy turns cancelled.
    delete(&app, "n3", "ms-org", ORGANIZER).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Unchanged));
    let mut cancelled = copy("ms-att", ATTENDEE, "Demo", 300);
    cancelled["status"] = json!("cancelled");
    publish(&app, "n4", "event.updated", &cancelled).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Updated));
    let records = app.crm.live_records();
    assert_eq!(records.len(), 1, "a cancelled meeting is kept");
    assert_eq!(records[0].body["meeting_status"], "cancelled");
    assert_eq!(calls(&app), (1, 1, 0));
}

#[tokio::test]
async fn google_notifications_of_two_grants_coalesced_into_one_job_lose_neither() {
    let app = two_grants().await;
    publish(
        &app,
        "n1",
        "event.created",
        &copy("g-evt", ORGANIZER, "Demo", 100),
    )
    .await;
    app.drain().await;
    publish(
        &app,
        "n2",
        "event.created",
        &copy("g-evt", ATTENDEE, "Demo", 100),
    )
    .await;
    app.drain().await;

    // The organizer deletes the meeting: their copy goes, the attendee's turns cancelled. Both
    // notifications arrive before a worker runs: one job (event id) holds the attendee's.
    delete(&app, "n3", "g-evt", ORGANIZER).await;
    let mut cancelled = copy("g-evt", ATTENDEE, "Demo", 200);
    cancelled["status"] = json!("cancelled");
    publish(&app, "n4", "event.updated", &cancelled).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Updated));
    let records = app.crm.live_records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].body["meeting_status"], "cancelled");
    assert_eq!(calls(&app), (1, 1, 0));

    // The attendee removes it too: every copy is gone.
    delete(&app, "n5", "g-evt", ATTENDEE).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Deleted));
    assert_eq!(calls(&app), (1, 1, 1));
}

#[tokio::test]
async fn a_disconnected_reps_copy_no_longer_keeps_the_meeting() {
    let app = two_grants().await;
    publish(
        &app,
        "n1",
        "event.created",
        &copy("ms-org", ORGANIZER, "Demo", 100),
    )
    .await;
    publish(
        &app,
        "n2",
        "event.created",
        &copy("ms-att", ATTENDEE, "Demo", 100),
    )
    .await;
    app.drain().await;
    app.notify(&grant_envelope("n3", "grant.deleted", ATTENDEE))
        .await;
    delete(&app, "n4", "ms-org", ORGANIZER).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Deleted));
    assert_eq!(calls(&app), (1, 0, 1));
}

/// Notifies both copies, claims both jobs, and runs them at the same moment on `first` and
/// `second` (two workers of one process, or two replicas); returns their outcomes, sorted.
async fn race_two_copies(first: &TestApp, second: &TestApp) -> Vec<String> {
    publish(
        first,
        "n1",
        "event.created",
        &copy("ms-org", ORGANIZER, "Demo", 100),
    )
    .await;
    publish(
        first,
        "n2",
        "event.created",
        &copy("ms-att", ATTENDEE, "Demo", 100),
    )
    .await;
    // A slow CRM keeps the first create in flight while the other job runs.
    first.crm.slow_down(Duration::from_millis(300));
    let now = jiff::Timestamp::now();
    let jobs = first
        .store
        .claim("race", now, Duration::from_secs(60), 2)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2);
    let (one, two) = tokio::join!(
        first.parts.processor.sync(&jobs[0]),
        second.parts.processor.sync(&jobs[1])
    );
    let mut outcomes = Vec::new();
    for (job, outcome) in jobs.iter().zip([one, two]) {
        outcomes.push(outcome.expect("the job succeeds").as_str().to_string());
        first.store.complete(&job.lease, now).await.unwrap();
    }
    outcomes.sort();
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_writing_two_copies_at_once_make_one_record() {
    let app = two_grants().await;
    let outcomes = race_two_copies(&app, &app).await;
    assert_eq!(outcomes, ["created", "unchanged"]);
    assert_eq!(calls(&app), (1, 0, 0));
    assert_eq!(app.crm.all_records().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_writing_two_copies_at_once_make_one_record() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let first = TestApp::builder()
        .env("CALSYNC__STORE__URL", &database.url)
        .spawn()
        .await;
    first.nylas.put_grant(ORGANIZER, "valid");
    first.nylas.put_grant(ATTENDEE, "valid");
    let second = first.reopen().await;
    let outcomes = race_two_copies(&first, &second).await;
    assert_eq!(outcomes, ["created", "unchanged"]);
    assert_eq!(calls(&first), (1, 0, 0));
    assert_eq!(first.crm.all_records().len(), 1);
}
