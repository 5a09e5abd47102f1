//! Small fidelity fixes (issue 9, item 4) through the real router and worker: a `timespan`
//! without an end is a zero-length meeting, and a link in HTML notes keeps its URL.

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::json;

use crate::support::harness::TestApp;
use crate::support::payloads::{envelope, event};

const GRANT: &str = "grant-1";
const CALENDAR: &str = "rep@seller.com";

#[tokio::test]
async fn a_timespan_without_an_end_is_a_zero_length_meeting_not_a_dead_letter() {
    let app = TestApp::spawn().await;
    let mut open_ended = event("evt-open", GRANT, CALENDAR, "Quick sync", 100);
    open_ended["when"] = json!({"object": "timespan", "start_time": 1_782_900_000,
                                "start_timezone": "Europe/Paris"});
    app.nylas.put_event(open_ended.clone());
    app.notify(&envelope("n1", "event.created", open_ended))
        .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert!(app.store.list_dead_letters(10).await.unwrap().is_empty());
    let body = &app.crm.records_for("evt-open")[0].body;
    assert_eq!(body["meeting_date"], "2026-07-01T10:00:00Z");
    assert_eq!(body["meeting_end_date"], "2026-07-01T10:00:00Z");
    assert_eq!(body["duration_minutes"], 0);
    assert_eq!(body["timezone"], "Europe/Paris");
}

#[tokio::test]
async fn a_click_here_to_join_link_keeps_its_url_in_the_notes() {
    let app = TestApp::spawn().await;
    let mut invite = event("evt-link", GRANT, CALENDAR, "Demo", 100);
    invite["description"] = json!(
        "<p>Agenda: pricing</p><p><a href=\"https://zoom.us/j/987654321?pwd=abc\">Click here to join</a></p>\
         <p>Deck: <a href=\"https://docs.example.com/deck\">docs.example.com/deck</a></p>"
    );
    app.nylas.put_event(invite.clone());
    app.notify(&envelope("n1", "event.created", invite)).await;
    app.drain().await;
    assert_eq!(
        app.crm.records_for("evt-link")[0].body["notes"],
        "Agenda: pricing\n\nClick here to join (https://zoom.us/j/987654321?pwd=abc)\n\n\
         Deck: docs.example.com/deck"
    );
}
