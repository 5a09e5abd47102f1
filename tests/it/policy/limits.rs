//! Field limits: an over-long description is cut to fit, never refused.

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::json;

use super::{KINDS, content, meeting_calls};
use crate::crm_conformance::without_linking;
use crate::support::crm_app::{CALENDAR, GRANT, app, publish};
use crate::support::harness::CrmFake;
use crate::support::payloads::event;

#[tokio::test]
async fn a_70000_character_description_is_accepted_by_every_adapter() {
    // Multi-byte characters and characters HTML escapes, so a cut in the wrong unit shows.
    let description: String = "Agenda é & notes 😀 "
        .chars()
        .cycle()
        .take(70_000)
        .collect();
    let title: String = "Quarterly business review ".repeat(20);
    for kind in KINDS {
        let app = app(kind, &without_linking(kind), false).await;
        let mut long = event("evt-long", GRANT, CALENDAR, &title, 100);
        long["description"] = json!(description);
        long["location"] = json!("Room ".repeat(100));
        publish(&app, "n1", "event.created", &long).await;
        assert_eq!(
            app.drain().await,
            vec![Settled::Done(SyncOutcome::Created)],
            "{kind:?}"
        );
        assert_eq!(
            meeting_calls(&app, kind).len(),
            1,
            "{kind:?}: accepted at once"
        );
        assert!(app.store.list_dead_letters(10).await.unwrap().is_empty());
        let written = content(&app, kind, "evt-long");
        let (body_max, short_max) = match kind {
            CrmFake::Rest => (32_000, 255),
            CrmFake::HubSpot => (65_536, 65_536),
            CrmFake::Pipedrive => (65_000, 255),
            // Salesforce counts UTF-16 code units.
            CrmFake::Salesforce => (32_000, 255),
        };
        let length = |text: &str| match kind {
            CrmFake::Salesforce => text.encode_utf16().count(),
            _ => text.chars().count(),
        };
        assert!(
            length(&written.body) <= body_max,
            "{kind:?}: {}",
            length(&written.body)
        );
        assert!(
            length(&written.body) > body_max - 1_000,
            "{kind:?}: cut too much"
        );
        assert!(written.body.contains('…'), "{kind:?}");
        assert!(length(&written.title) <= short_max, "{kind:?}");
        assert!(length(&written.location) <= short_max, "{kind:?}");
        if kind == CrmFake::Pipedrive {
            assert!(
                written.body.ends_with("calsync-event-id: evt-long</p>"),
                "marker kept"
            );
        }
    }
}
