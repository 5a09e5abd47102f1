//! Meetings calsync learns about other than by a webhook: a copy found by backfill counts as a
//! copy (so another rep dropping theirs keeps the meeting), and records written by a version
//! before meeting identity stay the records of their meetings (no second record, no key change).

use calsync::worker::SyncOutcome;
use serde_json::json;

use super::{ATTENDEE, CALENDAR, ORGANIZER, calls, copy, delete, done, publish, two_grants};
use crate::support::harness::TestApp;
use crate::support::payloads::event;

/// Empties the meeting ledger, leaving the sync state: the store as a version before meeting
/// identity left it (migrated, but no copy known).
async fn forget_copies(app: &TestApp) {
    use sqlx::Connection;
    let path = app.fixture.dir().join("calsync.db");
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("DELETE FROM meeting_copies")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM meetings")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
}

#[tokio::test]
async fn records_written_before_the_upgrade_stay_the_meetings_records() {
    let app = two_grants().await;
    publish(
        &app,
        "n1",
        "event.created",
        &copy("ms-org", ORGANIZER, "Demo", 100),
    )
    .await;
    let mut solo = event("solo", ORGANIZER, CALENDAR, "Solo", 100);
    solo["ical_uid"] = json!("solo-uid");
    publish(&app, "n2", "event.created", &solo).await;
    app.drain().await;
    forget_copies(&app).await;
    assert_eq!(calls(&app), (2, 0, 0));

    // The organizer's next change updates the existing record; the attendee's copy joins it.
    publish(
        &app,
        "n3",
        "event.updated",
        &copy("ms-org", ORGANIZER, "Demo v2", 200),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Updated));
    publish(
        &app,
        "n4",
        "event.created",
        &copy("ms-att", ATTENDEE, "Demo v2", 200),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Unchanged));
    assert_eq!(calls(&app), (2, 1, 0), "no second record, no new key");
    assert_eq!(
        app.crm.records_for("ms-org")[0].body["meeting_subject"],
        "Demo v2"
    );

    // A deletion of an event never read since the upgrade removes its existing record.
    delete(&app, "n5", "solo", ORGANIZER).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Deleted));
    assert_eq!(calls(&app), (2, 1, 1));
    assert!(
        app.crm
            .records_for("solo")
            .iter()
            .all(|record| record.deleted)
    );
}

#[tokio::test]
async fn a_copy_found_by_backfill_keeps_the_meeting_when_another_rep_drops_theirs() {
    use calsync::backfill::{self, BackfillOptions, ProgressMode, Window};
    let app = two_grants().await;
    app.nylas.put_calendar(ATTENDEE, CALENDAR, true, false);
    // A customer's meeting both reps attend; Google gives both copies the customer's event id.
    let customers = |grant: &str| {
        let mut copy = copy("g-ext", grant, "Customer QBR", 100);
        copy["organizer"] = json!({"email": "ceo@customer.com"});
        copy
    };
    publish(&app, "n1", "event.created", &customers(ORGANIZER)).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Created));
    app.nylas.put_event(customers(ATTENDEE));

    let options = BackfillOptions {
        window: Window {
            start: 1_782_000_000,
            end: 1_784_592_000,
        },
        grants: vec![ATTENDEE.to_string()],
        concurrency: 1,
    };
    let summary = backfill::run(
        app.app.backfill_deps(),
        options,
        ProgressMode::Log,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(summary.succeeded(), "{summary}");
    assert_eq!(summary.events_seen, 1, "{summary}");
    assert_eq!(
        calls(&app),
        (1, 0, 0),
        "the known meeting costs no CRM call"
    );

    // The customer organized it, so each rep's copy names its own rep as the owner; the
    // organizer rep's copy was written first and stays written while the tie lasts.
    let owner = |app: &TestApp| app.crm.live_records()[0].body["owner_email"].clone();
    assert_eq!(owner(&app), json!(format!("{ORGANIZER}@seller.com")));
    delete(&app, "n2", "g-ext", ORGANIZER).await;
    assert_eq!(
        app.drain().await,
        done(SyncOutcome::Updated),
        "the meeting stays, now owned by the rep who still has it"
    );
    assert_eq!(
        app.crm.live_records().len(),
        1,
        "the other rep still has it"
    );
    assert_eq!(owner(&app), json!(format!("{ATTENDEE}@seller.com")));
    delete(&app, "n3", "g-ext", ATTENDEE).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Deleted));
    assert_eq!(calls(&app), (1, 1, 1));
}
