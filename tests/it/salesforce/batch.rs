//! Salesforce batch writes (sObject Collections) through the real worker and the fake org, whose
//! collections requests are validated as strictly as its single ones: concurrent jobs share one
//! collections upsert; one invalid record fails alone, classified as a single write of it; a
//! throttled batch holds every job back without loss; a batch whose answer is lost is written
//! again without duplicates; an event updated while its batch is in flight ends with the newer
//! version; Shared Activities off falls back to `WhoId` inside a batch; deletes go through one
//! collections delete, an Event already gone included; `crm.batch_size = 1` (or an API version
//! before v46.0) keeps single requests; a lone change is sent at once and jobs of one claim whose
//! Nylas reads are held share a collection. Behaviour only: no timings are asserted.

use std::time::Duration;

use calsync::crm::salesforce::LIMIT_PAUSE_INITIAL;
use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::json;

use super::{CALENDAR, GRANT};
use crate::support::crm_app::{app, publish};
use crate::support::fake_salesforce::{EXTERNAL_ID_FIELD, FakeSalesforce};
use crate::support::harness::{CrmFake, TestApp};
use crate::support::payloads::{deleted_object, envelope, event};

const UPSERT: &str = "/composite/sobjects/Event/Calsync_Event_Id__c";
const DELETE: &str = "/composite/sobjects?";

/// Batches of exactly `size` writes: the linger is long enough that a batch is sent when it is
/// full, so which jobs share a request does not depend on how fast the machine is.
fn batches_of(size: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("CALSYNC__CRM__BATCH_SIZE", size),
        ("CALSYNC__CRM__BATCH_LINGER", "5s"),
    ]
}

/// Only Event requests: no contact lookups, no owner query.
fn events_only(mut env: Vec<(&'static str, &'static str)>) -> Vec<(&'static str, &'static str)> {
    env.push(("CALSYNC__CRM__LINK_CONTACTS", "false"));
    env.push(("CALSYNC__CRM__OWNER", "none"));
    env
}

async fn org_app(env: &[(&str, &str)], paused: bool) -> (TestApp, FakeSalesforce) {
    let app = app(CrmFake::Salesforce, env, paused).await;
    let org = app
        .salesforce
        .clone()
        .expect("the app writes to Salesforce");
    (app, org)
}

/// Publishes `count` new events `evt-0…`, titled by their index.
async fn publish_events(app: &TestApp, count: usize) {
    for index in 0..count {
        let title = format!("Meeting {index}");
        let current = event(&format!("evt-{index}"), GRANT, CALENDAR, &title, 100);
        publish(app, &format!("n{index}"), "event.created", &current).await;
    }
}

fn count(settled: &[Settled], wanted: &Settled) -> usize {
    settled.iter().filter(|s| *s == wanted).count()
}

/// Single Event upserts (not collections).
fn single_upserts(org: &FakeSalesforce) -> usize {
    let requests = org.requests().into_iter();
    requests
        .filter(|(method, path)| method == "PATCH" && !path.contains("/composite/"))
        .count()
}

/// Every event has exactly one Event, live, titled by its index.
fn assert_one_event_each(org: &FakeSalesforce, count: usize) {
    for index in 0..count {
        let events = org.events_for(&format!("evt-{index}"));
        assert_eq!(events.len(), 1, "evt-{index}: {events:?}");
        assert!(!events[0].deleted);
        assert_eq!(events[0].text("Subject"), format!("Meeting {index}"));
    }
}

#[tokio::test]
async fn concurrent_writes_share_one_collection_and_an_invalid_record_fails_alone() {
    let (app, org) = org_app(&batches_of("6"), false).await;
    let buyer = org.add_contact("buyer@prospect.com", "Buyer");
    org.reject_event("evt-3");
    publish_events(&app, 6).await;
    assert_eq!(app.parts.crm.batch_capacity(), 6);
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Created)),
        5,
        "{settled:?}"
    );
    assert_eq!(count(&settled, &Settled::DeadLettered), 1, "{settled:?}");
    assert_eq!(org.count("PATCH", UPSERT), 1);
    assert_eq!(org.collection_sizes(), vec![6]);
    assert_eq!(single_upserts(&org), 0);
    assert!(org.events_for("evt-3").is_empty());
    // Classified as the single write of it is: a validation rule's refusal is permanent.
    let dead = app.store.list_dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .last_error
            .contains("FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        "{}",
        dead[0].last_error
    );
    for index in [0, 1, 2, 4, 5] {
        let written = &org.events_for(&format!("evt-{index}"))[0];
        assert_eq!(written.text("Subject"), format!("Meeting {index}"));
        assert_eq!(written.fields["WhoId"], json!(buyer));
        assert_eq!(written.fields["EventWhoIds"], json!([buyer]));
    }
}

#[tokio::test(start_paused = true)]
async fn a_throttled_batch_holds_every_job_back_and_loses_nothing() {
    let (app, org) = org_app(&events_only(batches_of("4")), true).await;
    org.exhaust_api_limit();
    publish_events(&app, 4).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(org.count("PATCH", UPSERT), 1, "one refused collection");
    assert_eq!(settled.len(), 4, "{settled:?}");
    assert!(
        settled.iter().all(|s| matches!(s, Settled::Deferred(_))),
        "the daily limit is the target's trouble, no attempt counted: {settled:?}"
    );
    assert!(org.live_events().is_empty());
    assert!(app.store.list_dead_letters(10).await.unwrap().is_empty());

    // Calls aged out of the 24-hour window; once the pause is over every job is written, once.
    org.restore_api_limit();
    tokio::time::advance(LIMIT_PAUSE_INITIAL + Duration::from_secs(3600)).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Created)),
        4,
        "{settled:?}"
    );
    assert_one_event_each(&org, 4);
    assert_eq!(org.count("PATCH", UPSERT), 2);
}

#[tokio::test]
async fn a_batch_whose_answer_is_lost_is_written_again_without_duplicates() {
    let (app, org) = org_app(&batches_of("3"), false).await;
    org.lose_next_create();
    publish_events(&app, 3).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(settled.len(), 3, "{settled:?}");
    assert!(
        settled
            .iter()
            .all(|s| matches!(s, Settled::RetryLater(_) | Settled::Deferred(_))),
        "{settled:?}"
    );
    assert_eq!(org.live_events().len(), 3, "carried out, answer lost");
    // The jobs run again (as they would after a crash before they settled): the upsert by the
    // event id finds the Events instead of creating others.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Updated)),
        3,
        "{settled:?}"
    );
    assert_one_event_each(&org, 3);
    assert_eq!(org.collection_sizes(), vec![3, 3]);
}

#[tokio::test]
async fn an_event_updated_while_its_batch_is_in_flight_ends_with_the_newer_version() {
    let (app, org) = org_app(&[], false).await;
    let mut current = event("evt-0", GRANT, CALENDAR, "First title", 100);
    publish(&app, "n1", "event.created", &current).await;
    // The collection carrying version 100 is written but its answer is lost; meanwhile the
    // event changes.
    org.lose_next_create();
    let settled = app.drain_concurrently().await;
    assert!(
        matches!(settled[..], [Settled::RetryLater(_)]),
        "{settled:?}"
    );
    current["title"] = json!("Second title");
    current["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &current).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.drain_concurrently().await;
    let events = org.events_for("evt-0");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].text("Subject"), "Second title");
    assert_eq!(single_upserts(&org), 0);
}

#[tokio::test]
async fn without_shared_activities_a_batch_is_sent_again_with_who_id_only() {
    let (app, org) = org_app(&batches_of("3"), false).await;
    org.set_shared_activities(false);
    let buyer = org.add_contact("buyer@prospect.com", "Buyer");
    publish_events(&app, 3).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Created)),
        3,
        "{settled:?}"
    );
    assert_eq!(
        org.count("PATCH", UPSERT),
        2,
        "refused once, then sent without"
    );
    assert_one_event_each(&org, 3);
    for written in org.live_events() {
        assert_eq!(written.fields["WhoId"], json!(buyer));
        assert!(!written.fields.contains_key("EventWhoIds"), "{written:?}");
    }
    // Remembered for the process: the next batch goes without it at once.
    for index in 3..6 {
        let current = event(&format!("evt-{index}"), GRANT, CALENDAR, "Later", 100);
        publish(&app, &format!("n{index}"), "event.created", &current).await;
    }
    app.drain_concurrently().await;
    assert_eq!(org.count("PATCH", UPSERT), 3);
    assert_eq!(org.live_events().len(), 6);
}

#[tokio::test]
async fn deletes_go_in_one_collection_and_an_event_already_gone_counts_as_deleted() {
    let (app, org) = org_app(&batches_of("3"), false).await;
    publish_events(&app, 3).await;
    app.drain_concurrently().await;
    // A user already binned one of them in Salesforce.
    let binned = org.events_for("evt-1")[0].id.clone();
    org.delete_record(&binned);
    for index in 0..3 {
        let id = format!("evt-{index}");
        app.nylas.remove_event(GRANT, &id);
        let deleted = deleted_object(&id, GRANT, CALENDAR);
        app.notify(&envelope(&format!("d{index}"), "event.deleted", deleted))
            .await;
    }
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Deleted)),
        3,
        "{settled:?}"
    );
    assert_eq!(org.count("DELETE", DELETE), 1);
    assert_eq!(org.count("DELETE", "/sobjects/Event/"), 0);
    assert_eq!(org.collection_sizes(), vec![3, 3]);
    assert!(org.live_events().is_empty());
    assert!(app.store.list_dead_letters(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_expired_session_is_renewed_for_a_batch_without_failing_its_jobs() {
    let (app, org) = org_app(&events_only(batches_of("2")), false).await;
    publish_events(&app, 2).await;
    app.drain_concurrently().await;
    assert_eq!(org.token_requests(), 1);
    org.expire_tokens();
    for index in 0..2 {
        let current = event(&format!("evt-{index}"), GRANT, CALENDAR, "Moved", 200);
        publish(&app, &format!("u{index}"), "event.updated", &current).await;
    }
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Updated)),
        2,
        "{settled:?}"
    );
    assert_eq!(org.token_requests(), 2, "one renewal for the batch");
    assert_eq!(
        org.count("PATCH", UPSERT),
        3,
        "the first, the refused one, its resend"
    );
    assert!(
        org.live_events()
            .iter()
            .all(|e| e.text("Subject") == "Moved")
    );
}

#[tokio::test]
async fn batch_size_one_or_an_old_api_version_keeps_single_requests() {
    let settings: [&[(&str, &str)]; 2] = [
        &[("CALSYNC__CRM__BATCH_SIZE", "1")],
        &[("CALSYNC__CRM__API_VERSION", "v45.0")],
    ];
    for env in settings {
        let (app, org) = org_app(env, false).await;
        assert_eq!(app.parts.crm.batch_capacity(), 1, "{env:?}");
        publish_events(&app, 3).await;
        let settled = app.drain_concurrently().await;
        assert_eq!(
            count(&settled, &Settled::Done(SyncOutcome::Created)),
            3,
            "{env:?}: {settled:?}"
        );
        assert_eq!(single_upserts(&org), 3, "{env:?}");
        assert!(org.collection_sizes().is_empty(), "{env:?}");
        assert_one_event_each(&org, 3);
        let written = org.events_for("evt-0");
        assert_eq!(written[0].text(EXTERNAL_ID_FIELD), "evt-0");

        app.nylas.remove_event(GRANT, "evt-0");
        let deleted = deleted_object("evt-0", GRANT, CALENDAR);
        app.notify(&envelope("d0", "event.deleted", deleted)).await;
        assert_eq!(
            app.drain_concurrently().await,
            vec![Settled::Done(SyncOutcome::Deleted)]
        );
        assert_eq!(org.count("DELETE", "/sobjects/Event/"), 1, "{env:?}");
        assert!(org.collection_sizes().is_empty(), "{env:?}");
    }
}

#[tokio::test]
async fn a_lone_change_goes_at_once_and_held_jobs_still_share_a_collection() {
    // An hour-long linger: waiting for it would outlast the test's limit.
    let env = events_only(vec![
        ("CALSYNC__CRM__BATCH_SIZE", "200"),
        ("CALSYNC__CRM__BATCH_LINGER", "1h"),
        ("CALSYNC__SYNC__LEASE", "3h"),
    ]);
    let (app, org) = org_app(&env, false).await;
    let limit = Duration::from_secs(60);
    let lone = event("evt-lone", GRANT, CALENDAR, "Alone", 100);
    publish(&app, "n-lone", "event.created", &lone).await;
    let settled = tokio::time::timeout(limit, app.drain_concurrently()).await;
    let settled = settled.expect("the lone change waited for the linger");
    assert_eq!(settled, vec![Settled::Done(SyncOutcome::Created)]);

    // Three jobs claimed together, two of them reading from Nylas until released, share one
    // collection, sent when the last one joins.
    app.nylas.hold_read("evt-1");
    app.nylas.hold_read("evt-2");
    publish_events(&app, 3).await;
    let reads_before = app.nylas.event_reads();
    let release = async {
        while app.nylas.event_reads() == reads_before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        app.nylas.release_read("evt-1");
        app.nylas.release_read("evt-2");
    };
    let both = async { tokio::join!(app.drain_concurrently(), release).0 };
    let settled = tokio::time::timeout(limit, both).await;
    let settled = settled.expect("the collection waited for its linger");
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Created)),
        3,
        "{settled:?}"
    );
    assert_eq!(
        org.count("PATCH", UPSERT),
        2,
        "one for the lone change, one for the three"
    );
}
