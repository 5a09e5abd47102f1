//! Private events: redacted by default on every adapter, left out under `skip`.

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::json;

use super::{KINDS, content, crm_calls, filtered, meeting_calls};
use crate::crm_conformance::without_linking;
use crate::support::crm_app::{CALENDAR, GRANT, app, publish};
use crate::support::harness::CrmFake;
use crate::support::payloads::event;

/// "Oncology follow-up (personal)", private, with an insurance number in its notes.
fn private_event(updated_at: i64) -> serde_json::Value {
    let mut private = event(
        "evt-p",
        GRANT,
        CALENDAR,
        "Oncology follow-up (personal)",
        updated_at,
    );
    private["visibility"] = json!("private");
    private["description"] = json!("Bring insurance card, number AB-123-456");
    private["location"] = json!(null);
    // The clinic's room: its name must not come back as the location either.
    private["participants"] = json!([
        {"email": "buyer@prospect.com", "name": "Pat Buyer", "status": "yes"},
        {"email": "c_42@resource.calendar.google.com", "name": "Clinic, 5th floor"}
    ]);
    private
}

#[tokio::test]
async fn a_private_event_is_redacted_on_every_adapter() {
    for kind in KINDS {
        let app = app(kind, &without_linking(kind), false).await;
        publish(&app, "n1", "event.created", &private_event(100)).await;
        assert_eq!(
            app.drain().await,
            vec![Settled::Done(SyncOutcome::Created)],
            "{kind:?}"
        );
        let written = content(&app, kind, "evt-p");
        assert_eq!(written.title, "Private meeting", "{kind:?}");
        for hidden in ["Oncology", "AB-123-456", "insurance", "Clinic", "zoom.us"] {
            assert!(
                !written.everything.contains(hidden),
                "{kind:?} shows {hidden:?}: {}",
                written.everything
            );
        }
        assert_eq!(written.location, "", "{kind:?}");
        assert_eq!(meeting_calls(&app, kind).len(), 1, "{kind:?}: one create");
        if kind == CrmFake::Salesforce {
            let org = app.salesforce.as_ref().unwrap();
            assert_eq!(org.events_for("evt-p")[0].fields["IsPrivate"], json!(true));
        }
        if kind == CrmFake::Rest {
            // The times, status and attendees stay: the meeting still counts and links.
            let body = &app.crm.records_for("evt-p")[0].body;
            assert_eq!(body["meeting_date"], "2026-07-01T10:00:00Z");
            assert_eq!(body["meeting_status"], "confirmed");
            assert_eq!(body["attendees"][0]["email"], "buyer@prospect.com");
            assert!(body["notes"].is_null() && body["meeting_link"].is_null());
        }
    }
}

#[tokio::test]
async fn under_skip_a_private_event_writes_nothing_and_one_turning_private_loses_its_record() {
    let app = app(
        CrmFake::Rest,
        &[("CALSYNC__SYNC__PRIVATE_EVENTS", "skip")],
        false,
    )
    .await;
    publish(&app, "n1", "event.created", &private_event(100)).await;
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::NothingToDelete)]
    );
    assert_eq!(crm_calls(&app, CrmFake::Rest), 0);
    assert_eq!(filtered(&app, "private").await, 1);

    let mut public = event("evt-q", GRANT, CALENDAR, "Pricing review", 100);
    publish(&app, "n2", "event.created", &public).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    public["visibility"] = json!("confidential");
    public["updated_at"] = json!(200);
    publish(&app, "n3", "event.updated", &public).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Deleted)]);
    assert_eq!(
        meeting_calls(&app, CrmFake::Rest),
        ["POST /api/meetings", "DELETE /api/meetings"]
    );
    assert!(app.crm.live_records().is_empty());
    assert_eq!(filtered(&app, "private").await, 2);

    // Under `sync` the private event is written as it is.
    let open = crate::support::crm_app::app(
        CrmFake::Rest,
        &[("CALSYNC__SYNC__PRIVATE_EVENTS", "sync")],
        false,
    )
    .await;
    publish(&open, "n1", "event.created", &private_event(100)).await;
    assert_eq!(
        open.drain().await,
        vec![Settled::Done(SyncOutcome::Created)]
    );
    let written = content(&open, CrmFake::Rest, "evt-p");
    assert_eq!(written.title, "Oncology follow-up (personal)");
}
