//! A meeting seen through several reps when the policy leaves a copy out (issue 10 on top of
//! issue 9): a filtered copy keeps the meeting alive no more than a deleted one, one rep's copy
//! being filtered never removes the meeting for the others, and a meeting whose every copy is
//! gone or filtered is archived, not marked cancelled, even with `deleted_meetings = "cancel"`.

use calsync::config::{DeletedMeetings, FilterSettings};
use calsync::worker::SyncOutcome;
use serde_json::json;

use super::{ATTENDEE, ORGANIZER, calls, copy, done, publish};
use crate::support::harness::TestApp;

/// Two connected reps, free events skipped, deleted meetings kept as cancelled.
async fn app() -> TestApp {
    let app = TestApp::builder()
        .with_config(|settings| {
            settings.filter = FilterSettings {
                skip_free: true,
                ..FilterSettings::default()
            };
            settings.sync.deleted_meetings = DeletedMeetings::Cancel;
        })
        .spawn()
        .await;
    app.nylas.put_grant(ORGANIZER, "valid");
    app.nylas.put_grant(ATTENDEE, "valid");
    app
}

#[tokio::test]
async fn one_reps_filtered_copy_keeps_the_meeting_and_all_filtered_archives_it() {
    let app = app().await;
    publish(
        &app,
        "n1",
        "event.created",
        &copy("ms-org", ORGANIZER, "Demo", 100),
    )
    .await;
    assert_eq!(app.drain().await, done(SyncOutcome::Created));

    // The attendee shows the meeting as free: their copy is left out, the meeting stays.
    let mut free = copy("ms-att", ATTENDEE, "Demo", 100);
    free["busy"] = json!(false);
    publish(&app, "n2", "event.created", &free).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Unchanged));
    assert_eq!(calls(&app), (1, 0, 0), "the organizer's copy still counts");
    assert_eq!(app.crm.live_records().len(), 1);

    // The organizer's copy is filtered too: nobody's copy qualifies, so the record is archived
    // (a filtered meeting was not cancelled), although deleted meetings are kept as cancelled.
    let mut organizer_free = copy("ms-org", ORGANIZER, "Demo", 200);
    organizer_free["busy"] = json!(false);
    publish(&app, "n3", "event.updated", &organizer_free).await;
    assert_eq!(app.drain().await, done(SyncOutcome::Deleted));
    assert_eq!(
        calls(&app),
        (1, 0, 1),
        "archived, never updated as cancelled"
    );
    assert!(app.crm.live_records().is_empty());

    // Back to busy: the meeting qualifies again and its record is written again.
    let mut busy_again = copy("ms-org", ORGANIZER, "Demo", 300);
    busy_again["busy"] = json!(true);
    publish(&app, "n4", "event.updated", &busy_again).await;
    assert_eq!(app.drain().await.len(), 1);
    assert_eq!(app.crm.live_records().len(), 1);
    assert_eq!(
        app.crm.live_records()[0].body["meeting_status"],
        "confirmed"
    );
}
