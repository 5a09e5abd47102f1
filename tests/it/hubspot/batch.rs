//! HubSpot batch writes through the real worker and the fake HubSpot (every request checked
//! against the specs): concurrent jobs share one `batch/upsert`; one invalid record fails alone;
//! a throttled batch retries every job without loss or duplicates; a batch whose answer is lost
//! is written again without duplicates; an event updated while its batch is in flight ends with
//! the newer version; deletes go through `batch/archive`; a property without unique values falls
//! back to single writes. Behaviour only: no timings are asserted.

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::json;

use super::{CALENDAR, GRANT, hub, hubspot_app, publish};
use crate::support::fake_hubspot::{FakeHubSpot, Throttle};
use crate::support::fake_vendor::Recorded;
use crate::support::harness::TestApp;
use crate::support::payloads::{deleted_object, envelope, event};

pub(super) const UPSERT: &str = "/crm/objects/2026-03/meetings/batch/upsert";
const ARCHIVE: &str = "/crm/objects/2026-03/meetings/batch/archive";

/// Publishes `count` new events `evt-0…`, titled by their index.
pub(super) async fn publish_events(app: &TestApp, count: usize) {
    for index in 0..count {
        let current = event(
            &format!("evt-{index}"),
            GRANT,
            CALENDAR,
            &format!("Meeting {index}"),
            100,
        );
        publish(app, &format!("n{index}"), "event.created", &current).await;
    }
}

/// Batches of exactly `size` writes: the linger is long enough that a batch is sent when it is
/// full, so which jobs share a request does not depend on how fast the machine is.
pub(super) fn batches_of(size: &'static str) -> [(&'static str, &'static str); 2] {
    [
        ("CALSYNC__CRM__BATCH_SIZE", size),
        ("CALSYNC__CRM__BATCH_LINGER", "5s"),
    ]
}

/// An app on paused tokio time (retries and pauses pass only when the test advances it).
async fn paused_app(env: &[(&str, &str)]) -> TestApp {
    crate::support::crm_app::app(crate::support::harness::CrmFake::HubSpot, env, true).await
}

pub(super) fn count(settled: &[Settled], wanted: &Settled) -> usize {
    settled.iter().filter(|s| *s == wanted).count()
}

/// Every event has exactly one meeting, live.
fn assert_one_meeting_each(hubspot: &FakeHubSpot, count: usize) {
    for index in 0..count {
        let meetings = hubspot.meetings_for(&format!("evt-{index}"));
        assert_eq!(meetings.len(), 1, "evt-{index}: {meetings:?}");
        assert!(!meetings[0].archived);
    }
}

#[tokio::test]
async fn concurrent_writes_share_one_request_and_an_invalid_record_fails_alone() {
    let app = hubspot_app(&batches_of("6")).await;
    let hubspot = hub(&app);
    hubspot.reject_event("evt-3");
    publish_events(&app, 6).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Created)),
        5,
        "{settled:?}"
    );
    assert_eq!(count(&settled, &Settled::DeadLettered), 1, "{settled:?}");
    assert_eq!(hubspot.requests_to(UPSERT), 1);
    assert!(hubspot.meetings_for("evt-3").is_empty());
    let dead = app.store.list_dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].last_error.contains("INVALID_STRING"),
        "{}",
        dead[0].last_error
    );
    for index in [0, 1, 2, 4, 5] {
        let meeting = &hubspot.meetings_for(&format!("evt-{index}"))[0];
        assert_eq!(meeting.prop("hs_meeting_title"), format!("Meeting {index}"));
    }
    hubspot.assert_contract();
}

#[tokio::test]
async fn a_throttled_batch_retries_every_job_and_loses_or_duplicates_nothing() {
    let app = hubspot_app(&batches_of("4")).await;
    let hubspot = hub(&app);
    // Two 429s in a row: the in-place retry is throttled too, so the batch fails.
    let throttle = Throttle::TenSecondly {
        retry_after: Some(1),
        interval_ms: 10_000,
    };
    hubspot.throttle_batch_upserts([throttle, throttle]);
    publish_events(&app, 4).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(
        hubspot.requests_to(UPSERT),
        2,
        "the request and its in-place retry"
    );
    assert_eq!(settled.len(), 4, "{settled:?}");
    assert!(
        settled
            .iter()
            .all(|s| matches!(s, Settled::Deferred(_) | Settled::RetryLater(_))),
        "{settled:?}"
    );
    assert!(hubspot.live_meetings().is_empty());
    // Once the pause is over, every job is written, once.
    // Real time: the adapter's in-place retry waits out the `Retry-After` inside the batch.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Created)),
        4,
        "{settled:?}"
    );
    assert_one_meeting_each(hubspot, 4);
    assert!(app.store.list_dead_letters(10).await.unwrap().is_empty());
    hubspot.assert_contract();
}

#[tokio::test(start_paused = true)]
async fn a_batch_whose_answer_is_lost_is_written_again_without_duplicates() {
    let app = paused_app(&batches_of("3")).await;
    let hubspot = hub(&app);
    hubspot.lose_next_batch();
    publish_events(&app, 3).await;
    let settled = app.drain_concurrently().await;
    // A lost answer is retried; the CRM's back-off holds the batch-mates (no attempt counted).
    assert_eq!(settled.len(), 3, "{settled:?}");
    assert!(
        settled
            .iter()
            .all(|s| matches!(s, Settled::RetryLater(_) | Settled::Deferred(_))),
        "{settled:?}"
    );
    assert_eq!(hubspot.live_meetings().len(), 3, "carried out, answer lost");
    // The jobs run again (as they would after a crash before they settled): the upsert by the
    // event id finds the meetings instead of creating others.
    tokio::time::advance(std::time::Duration::from_millis(1_100)).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Updated)),
        3,
        "{settled:?}"
    );
    assert_one_meeting_each(hubspot, 3);
    hubspot.assert_contract();
}

#[tokio::test(start_paused = true)]
async fn an_event_updated_while_its_batch_is_in_flight_ends_with_the_newer_version() {
    // A zero linger: the batch is sent with the writes already waiting (the one job here).
    let app = paused_app(&[("CALSYNC__CRM__BATCH_LINGER", "0s")]).await;
    let hubspot = hub(&app);
    let mut current = event("evt-0", GRANT, CALENDAR, "First title", 100);
    publish(&app, "n1", "event.created", &current).await;
    // The batch carrying version 100 is written but its answer is lost; meanwhile the event
    // changes.
    hubspot.lose_next_batch();
    let settled = app.drain_concurrently().await;
    assert!(
        matches!(settled[..], [Settled::RetryLater(_)]),
        "{settled:?}"
    );
    current["title"] = json!("Second title");
    current["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &current).await;
    tokio::time::advance(std::time::Duration::from_secs(2)).await;
    app.drain_concurrently().await;
    let meetings = hubspot.meetings_for("evt-0");
    assert_eq!(meetings.len(), 1, "{meetings:?}");
    assert_eq!(meetings[0].prop("hs_meeting_title"), "Second title");
    hubspot.assert_contract();
}

#[tokio::test]
async fn deletes_archive_in_one_request_and_cancel_mode_keeps_the_meetings() {
    for cancel in [false, true] {
        let env: &[(&str, &str)] = match cancel {
            true => &[("CALSYNC__SYNC__DELETED_MEETINGS", "cancel")],
            false => &[],
        };
        let app = hubspot_app(env).await;
        let hubspot = hub(&app);
        publish_events(&app, 3).await;
        app.drain_concurrently().await;
        for index in 0..3 {
            let id = format!("evt-{index}");
            app.nylas.remove_event(GRANT, &id);
            let deleted = deleted_object(&id, GRANT, CALENDAR);
            app.notify(&envelope(&format!("d{index}"), "event.deleted", deleted))
                .await;
        }
        let settled = app.drain_concurrently().await;
        if cancel {
            assert_eq!(
                count(&settled, &Settled::Done(SyncOutcome::Updated)),
                3,
                "{settled:?}"
            );
            assert_eq!(hubspot.requests_to(ARCHIVE), 0);
            for meeting in hubspot.live_meetings() {
                assert_eq!(meeting.prop("hs_meeting_outcome"), "CANCELED");
            }
            assert_eq!(hubspot.live_meetings().len(), 3);
        } else {
            assert_eq!(
                count(&settled, &Settled::Done(SyncOutcome::Deleted)),
                3,
                "{settled:?}"
            );
            assert_eq!(hubspot.requests_to(ARCHIVE), 1);
            assert!(hubspot.live_meetings().is_empty());
        }
        hubspot.assert_contract();
    }
}

#[tokio::test]
async fn without_a_unique_property_each_meeting_is_written_alone() {
    let app = hubspot_app(&[]).await;
    let hubspot = hub(&app);
    hubspot.event_id_property_not_unique();
    assert_eq!(
        app.parts.crm.batch_capacity(),
        100,
        "not known before the first write"
    );
    assert_eq!(app.runner.pool_size(), 100);
    publish_events(&app, 3).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(
        app.parts.crm.batch_capacity(),
        1,
        "single writes need no batch of jobs in flight"
    );
    let workers = app.fixture.settings.sync.workers;
    assert_eq!(app.runner.pool_size(), workers, "the pool shrinks back");
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Created)),
        3,
        "{settled:?}"
    );
    assert_eq!(hubspot.requests_to(UPSERT), 0);
    assert_eq!(hubspot.requests_to("/crm/objects/2026-03/meetings"), 3);
    assert_eq!(
        hubspot.requests_to("/crm/v3/properties/meetings/calsync_event_id"),
        1
    );
    assert_one_meeting_each(hubspot, 3);
    hubspot.assert_contract();
}

#[tokio::test]
async fn batched_meetings_are_linked_to_their_contacts_and_links_follow_the_attendees() {
    let app = hubspot_app(&[]).await;
    let hubspot = hub(&app);
    hubspot.add_contact("buyer@prospect.com", Some("Pat"));
    hubspot.add_contact("cfo@prospect.com", None);
    let with = |mut current: serde_json::Value, email: &str, version: i64| {
        current["participants"] = json!([{"email": email, "status": "yes"}]);
        current["updated_at"] = json!(version);
        current
    };
    for index in 0..2 {
        let current = event(&format!("evt-{index}"), GRANT, CALENDAR, "Demo", 100);
        publish(
            &app,
            &format!("n{index}"),
            "event.created",
            &with(current, "buyer@prospect.com", 100),
        )
        .await;
    }
    app.drain_concurrently().await;
    for index in 0..2 {
        let meeting = &hubspot.meetings_for(&format!("evt-{index}"))[0];
        assert_eq!(hubspot.linked_emails(&meeting.id), ["buyer@prospect.com"]);
    }
    let current = event("evt-0", GRANT, CALENDAR, "Demo", 200);
    publish(
        &app,
        "u0",
        "event.updated",
        &with(current, "cfo@prospect.com", 200),
    )
    .await;
    app.drain_concurrently().await;
    let meeting = &hubspot.meetings_for("evt-0")[0];
    assert_eq!(hubspot.linked_emails(&meeting.id), ["cfo@prospect.com"]);
    hubspot.assert_contract();
}

#[tokio::test]
async fn a_meeting_written_before_the_unique_property_is_updated_by_its_id_not_duplicated() {
    let app = hubspot_app(&[]).await;
    let hubspot = hub(&app);
    let mut current = event("evt-0", GRANT, CALENDAR, "First title", 100);
    publish(&app, "n1", "event.created", &current).await;
    app.drain_concurrently().await;
    let written = hubspot.meetings_for("evt-0");
    assert_eq!(written.len(), 1, "{written:?}");
    // The meeting does not carry the (new) event id property, as one written before the
    // operator switched `crm.event_id_property` to a unique one.
    hubspot.clear_property(&written[0].id, "calsync_event_id");
    current["title"] = json!("Second title");
    current["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &current).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Updated)),
        1,
        "{settled:?}"
    );
    let live = hubspot.live_meetings();
    assert_eq!(live.len(), 1, "no second meeting: {live:?}");
    assert_eq!(live[0].id, written[0].id);
    assert_eq!(live[0].prop("hs_meeting_title"), "Second title");
    assert_eq!(
        live[0].prop("calsync_event_id"),
        "evt-0",
        "the update sets it again"
    );
    assert_eq!(
        hubspot.requests_to(UPSERT),
        1,
        "only the create was upserted"
    );
    hubspot.assert_contract();
}
