//! Batch updates of meetings calsync already wrote, through the real worker and the fake
//! HubSpot (every request checked against the specs): concurrent updates of known meetings
//! share one `batch/update` by HubSpot id (never a property upsert); one invalid record fails
//! alone; a meeting archived in HubSpot since is created again while its batch-mates are
//! updated. Behaviour only: no timings are asserted.

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;

use super::batch::{UPSERT, batches_of, count, publish_events};
use super::{CALENDAR, GRANT, hub, hubspot_app, publish};
use crate::support::fake_vendor::Recorded;
use crate::support::harness::TestApp;
use crate::support::payloads::event;

const UPDATE: &str = "/crm/objects/2026-03/meetings/batch/update";

/// Publishes a second version of the events `evt-0…`, titled "Renamed <index>".
async fn rename_events(app: &TestApp, count: usize) {
    for index in 0..count {
        let title = format!("Renamed {index}");
        let current = event(&format!("evt-{index}"), GRANT, CALENDAR, &title, 200);
        publish(app, &format!("u{index}"), "event.updated", &current).await;
    }
}

#[tokio::test]
async fn known_meetings_are_updated_by_id_in_one_request_and_an_invalid_record_fails_alone() {
    let app = hubspot_app(&batches_of("5")).await;
    let hubspot = hub(&app);
    publish_events(&app, 5).await;
    app.drain_concurrently().await;
    let first: Vec<String> = (0..5)
        .map(|index| hubspot.meetings_for(&format!("evt-{index}"))[0].id.clone())
        .collect();
    hubspot.reject_event("evt-2");
    rename_events(&app, 5).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Updated)),
        4,
        "{settled:?}"
    );
    assert_eq!(count(&settled, &Settled::DeadLettered), 1, "{settled:?}");
    assert_eq!(hubspot.requests_to(UPDATE), 1, "one request for the batch");
    assert_eq!(
        hubspot.requests_to(UPSERT),
        1,
        "only the creates were upserted"
    );
    for (index, id) in first.iter().enumerate() {
        let meetings = hubspot.meetings_for(&format!("evt-{index}"));
        assert_eq!(meetings.len(), 1, "evt-{index}: {meetings:?}");
        assert_eq!(&meetings[0].id, id, "updated in place");
        let title = match index {
            2 => "Meeting 2".to_owned(),
            _ => format!("Renamed {index}"),
        };
        assert_eq!(meetings[0].prop("hs_meeting_title"), title);
    }
    hubspot.assert_contract();
}

#[tokio::test]
async fn a_meeting_archived_in_hubspot_is_created_again_and_its_batch_mates_are_updated() {
    let app = hubspot_app(&batches_of("3")).await;
    let hubspot = hub(&app);
    publish_events(&app, 3).await;
    app.drain_concurrently().await;
    let gone = hubspot.meetings_for("evt-1")[0].id.clone();
    hubspot.archive(&gone);
    rename_events(&app, 3).await;
    let settled = app.drain_concurrently().await;
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Updated)),
        2,
        "{settled:?}"
    );
    assert_eq!(
        count(&settled, &Settled::Done(SyncOutcome::Created)),
        1,
        "{settled:?}"
    );
    let live = hubspot.live_meetings();
    assert_eq!(live.len(), 3, "{live:?}");
    for index in 0..3 {
        let meetings: Vec<_> = hubspot
            .meetings_for(&format!("evt-{index}"))
            .into_iter()
            .filter(|meeting| !meeting.archived)
            .collect();
        assert_eq!(meetings.len(), 1, "evt-{index}: {meetings:?}");
        assert_eq!(
            meetings[0].prop("hs_meeting_title"),
            format!("Renamed {index}")
        );
    }
    assert_ne!(
        hubspot
            .meetings_for("evt-1")
            .iter()
            .find(|m| !m.archived)
            .map(|m| &m.id),
        Some(&gone)
    );
    hubspot.assert_contract();
}
