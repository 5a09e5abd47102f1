//! Events, calendars and grants against the fake: exact paths (percent-encoded ids), queries and
//! lenient parsing.

use serde_json::json;

use super::*;
use crate::nylas::client::fake::{Canned, FakeNylas};
use crate::retry::Retry;

const GOOGLE_CALENDAR: &str = "team@group.calendar.google.com";
const MICROSOFT_EVENT: &str = "AAMk+a/b=";

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[tokio::test]
async fn get_event_encodes_ids_and_sends_the_calendar() {
    let fake = FakeNylas::start().await;
    let event = json!({"id": MICROSOFT_EVENT, "calendar_id": GOOGLE_CALENDAR, "status": "confirmed",
        "when": {"object": "timespan", "start_time": 1717000000, "end_time": 1717003600}});
    fake.then(Canned::json(200, json!({"request_id": "r", "data": event})));
    let found = fake
        .client()
        .get_event("user@example.com", MICROSOFT_EVENT, GOOGLE_CALENDAR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, MICROSOFT_EVENT);
    assert_eq!(found.calendar_id.as_deref(), Some(GOOGLE_CALENDAR));
    assert_eq!(found.when.and_then(|when| when.end_time), Some(1717003600));

    let request = fake.single();
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.path,
        "/v3/grants/user%40example.com/events/AAMk%2Ba%2Fb%3D"
    );
    assert_eq!(request.query(), pairs(&[("calendar_id", GOOGLE_CALENDAR)]));
    assert_eq!(
        request.raw_query.as_deref(),
        Some("calendar_id=team%40group.calendar.google.com")
    );
}

#[tokio::test]
async fn a_calendar_id_with_a_hash_survives_the_query() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::json(
        404,
        json!({"error": {"type": "not_found_error"}}),
    ));
    let holidays = "en.usa#holiday@group.v.calendar.google.com";
    let client = fake.client();
    assert!(
        client
            .get_event("g", "e#1", holidays)
            .await
            .unwrap()
            .is_none()
    );
    let request = fake.single();
    assert_eq!(request.path, "/v3/grants/g/events/e%231");
    assert_eq!(request.query(), pairs(&[("calendar_id", holidays)]));
}

#[tokio::test]
async fn a_deleted_event_is_none_but_a_missing_grant_is_an_error() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::json(
        404,
        json!({"error": {"type": "not_found_error", "message": "requested object not found"}}),
    ));
    fake.then(Canned::json(
        404,
        json!({"error": {"type": "grant.not_found", "message": "Grant not found."}}),
    ));
    let client = fake.client();
    assert!(client.get_event("g", "e", "c").await.unwrap().is_none());
    let error = client.get_event("g", "e", "c").await.unwrap_err();
    assert!(error.is_grant_not_found(), "{error:?}");
    assert_eq!(error.retry(), Retry::Permanent);
}

#[tokio::test]
async fn list_events_sends_the_window_and_every_set_option() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::json(
        200,
        json!({"request_id": "r", "data": [], "next_cursor": "c2"}),
    ));
    let query = EventQuery {
        limit: 500,
        page_token: Some("c1".into()),
        updated_after: Some(1716000000),
        show_cancelled: Some(true),
        expand_recurring: Some(false),
        ..EventQuery::new(GOOGLE_CALENDAR, 1715000000, 1720000000)
    };
    let page = fake.client().list_events("grant_1", &query).await.unwrap();
    assert!(page.data.is_empty());
    assert_eq!(page.next_cursor.as_deref(), Some("c2"));

    let request = fake.single();
    assert_eq!(request.path, "/v3/grants/grant_1/events");
    let expected = [
        ("calendar_id", GOOGLE_CALENDAR),
        ("start", "1715000000"),
        ("end", "1720000000"),
        ("limit", "200"),
        ("page_token", "c1"),
        ("updated_after", "1716000000"),
        ("show_cancelled", "true"),
        ("expand_recurring", "false"),
    ];
    assert_eq!(request.query(), pairs(&expected));
}

#[tokio::test]
async fn list_events_leaves_unset_options_out() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::json(200, json!({"data": []})));
    let query = EventQuery::new("primary", 1, 2);
    let page = fake.client().list_events("g", &query).await.unwrap();
    assert_eq!(page.next_cursor, None);
    let expected = [
        ("calendar_id", "primary"),
        ("start", "1"),
        ("end", "2"),
        ("limit", "200"),
    ];
    assert_eq!(fake.single().query(), pairs(&expected));
}

#[tokio::test]
async fn an_unreadable_event_is_skipped_not_fatal() {
    let fake = FakeNylas::start().await;
    let data = json!([
        {"id": "evt_1", "title": "First"},
        {"title": "no id at all"},
        {"id": "evt_3", "participants": "not a list", "when": 42, "busy": "maybe"},
        17
    ]);
    fake.then(Canned::json(200, json!({"data": data, "next_cursor": ""})));
    let page = fake
        .client()
        .list_events("g", &EventQuery::new("primary", 1, 2))
        .await
        .unwrap();
    let ids: Vec<&str> = page.data.iter().map(|event| event.id.as_str()).collect();
    assert_eq!(ids, ["evt_1", "evt_3"]);
    assert_eq!(page.skipped, 2);
    assert_eq!(page.received(), 4);
    assert_eq!(page.next_cursor, None, "an empty cursor is the last page");
}

#[tokio::test]
async fn a_list_answer_without_data_is_a_decode_error() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::json(200, json!({"request_id": "r"})));
    let error = fake
        .client()
        .list_events("g", &EventQuery::new("primary", 1, 2))
        .await
        .unwrap_err();
    assert!(matches!(error, NylasError::Decode { .. }), "{error:?}");
}

#[tokio::test]
async fn list_calendars_pages_by_cursor() {
    let fake = FakeNylas::start().await;
    let data = json!([
        {"id": GOOGLE_CALENDAR, "name": "Team", "is_primary": false, "read_only": true},
        {"id": "primary-id", "is_primary": true, "timezone": "Europe/Paris"}
    ]);
    fake.then(Canned::json(
        200,
        json!({"data": data, "next_cursor": "next"}),
    ));
    fake.then(Canned::json(200, json!({"data": []})));
    let client = fake.client();
    let first = client.list_calendars("g", 1000, None).await.unwrap();
    assert_eq!(first.data.len(), 2);
    assert_eq!(first.data[0].read_only, Some(true));
    assert_eq!(first.data[1].timezone.as_deref(), Some("Europe/Paris"));
    let second = client
        .list_calendars("g", 50, first.next_cursor.as_deref())
        .await
        .unwrap();
    assert!(second.data.is_empty() && second.next_cursor.is_none());

    let requests = fake.requests();
    assert_eq!(requests[0].path, "/v3/grants/g/calendars");
    assert_eq!(requests[0].query(), pairs(&[("limit", "200")]));
    assert_eq!(
        requests[1].query(),
        pairs(&[("limit", "50"), ("page_token", "next")])
    );
}

#[tokio::test]
async fn list_grants_pages_by_offset() {
    let fake = FakeNylas::start().await;
    let data = json!([
        {"id": "g1", "provider": "google", "grant_status": "valid", "email": "a@x.com"},
        {"id": "g2", "provider": "microsoft", "grant_status": "invalid"},
        {"provider": "broken"}
    ]);
    let answer = json!({"request_id": "r", "data": data, "limit": 3, "offset": 6});
    fake.then(Canned::json(200, answer));
    let page = fake.client().list_grants(3, 6).await.unwrap();
    assert_eq!(page.data.len(), 2);
    assert!(page.data[0].is_valid() && !page.data[1].is_valid());
    assert_eq!(
        page.received(),
        3,
        "the bad grant still counts: the page is full"
    );
    assert_eq!(page.next_cursor, None);

    let request = fake.single();
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/v3/grants")
    );
    assert_eq!(request.query(), pairs(&[("limit", "3"), ("offset", "6")]));
}
