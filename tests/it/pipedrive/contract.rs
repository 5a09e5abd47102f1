//! The validator on Pipedrive's spec: it accepts the v2 shapes and catches what Pipedrive itself
//! would silently ignore (a v1 field name) as well as wrong paths, parameters and credentials.

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::support::fake_pipedrive::{FakePipedrive, PIPEDRIVE_TOKEN};
use crate::support::fake_vendor::{Recorded, check_request};
use crate::support::openapi::Contract;

fn headers(authorized: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    if authorized {
        headers.insert("x-api-token", PIPEDRIVE_TOKEN.parse().unwrap());
    }
    headers
}

fn check_with(
    method: &str,
    path: &str,
    query: Option<&str>,
    body: Option<Value>,
    headers: &HeaderMap,
) -> Vec<String> {
    let contract = Contract::pipedrive().expect("each test returns first without the specs");
    check_request(contract, (method, path, query), body, headers)
}

fn check(method: &str, path: &str, query: Option<&str>, body: Option<Value>) -> Vec<String> {
    check_with(method, path, query, body, &headers(true))
}

fn activity() -> Value {
    json!({
        "subject": "Demo", "type": "meeting", "due_date": "2026-07-01", "due_time": "10:00",
        "duration": "00:45", "busy": true, "done": false, "location": {"value": "Zoom"},
        "note": "<p>calsync-event-id: evt-1</p>",
        "attendees": [{"email": "buyer@prospect.com", "name": "Pat", "person_id": 7}],
        "participants": [{"person_id": 7, "primary": true}]
    })
}

#[test]
fn conforming_requests_pass() {
    if Contract::pipedrive().is_none() {
        return; // skipped: no specs (announced on stderr)
    }
    let none = Vec::<String>::new();
    assert_eq!(
        check("POST", "/api/v2/activities", None, Some(activity())),
        none
    );
    assert_eq!(
        check("PATCH", "/api/v2/activities/42", None, Some(activity())),
        none
    );
    assert_eq!(check("DELETE", "/api/v2/activities/42", None, None), none);
    let query = Some("term=buyer%40prospect.com&fields=email&exact_match=true");
    assert_eq!(check("GET", "/api/v2/persons/search", query, None), none);
    let scan = Some(
        "updated_since=2026-06-24T10%3A00%3A00Z&sort_by=update_time&sort_direction=desc&limit=500",
    );
    assert_eq!(check("GET", "/api/v2/activities", scan, None), none);
}

/// Asserts that one of `problems` mentions `needle`.
fn expect(problems: Vec<String>, needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected {needle:?} in {problems:?}"
    );
}

const ACTIVITIES: &str = "/api/v2/activities";

#[test]
fn the_validator_catches_field_names_pipedrive_would_ignore() {
    if Contract::pipedrive().is_none() {
        return; // skipped: no specs (announced on stderr)
    }
    // v1 names that v2 silently drops: `user_id` (now `owner_id`), a string `location`.
    let mut v1 = activity();
    v1["user_id"] = json!(5);
    expect(check("POST", ACTIVITIES, None, Some(v1)), "user_id");
    let mut v1 = activity();
    v1["location"] = json!("Zoom");
    expect(check("POST", ACTIVITIES, None, Some(v1)), "location");
    let mut typo = activity();
    typo["participants"] = json!([{"personId": 7, "primary": true}]);
    expect(check("POST", ACTIVITIES, None, Some(typo)), "personId");
}

#[test]
fn the_validator_catches_wrong_paths_parameters_and_credentials() {
    if Contract::pipedrive().is_none() {
        return; // skipped: no specs (announced on stderr)
    }
    let search = "/api/v2/persons/search";
    expect(
        check("POST", "/api/v1/activities", None, Some(activity())),
        "no such path",
    );
    expect(
        check("POST", "/api/v2/activity", None, Some(activity())),
        "no such path",
    );
    let bad_id = check("PATCH", "/api/v2/activities/abc", None, Some(activity()));
    expect(bad_id, "not an integer");
    expect(check("GET", search, Some("fields=email"), None), "term");
    expect(
        check("GET", search, Some("term=a&fields=mail"), None),
        "fields",
    );
    expect(
        check("GET", ACTIVITIES, Some("api_token=abc"), None),
        "api_token",
    );
    let anonymous = check_with("GET", ACTIVITIES, None, None, &headers(false));
    expect(anonymous, "security");
    let with_body = check("DELETE", "/api/v2/activities/42", None, Some(json!({})));
    expect(with_body, "takes no body");
}

#[tokio::test]
async fn the_fake_refuses_and_records_a_request_the_spec_rejects() {
    if Contract::pipedrive().is_none() {
        return; // skipped: no specs (announced on stderr)
    }
    let fake = FakePipedrive::start().await;
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v2/activities", fake.base_url()))
        .header("x-api-token", PIPEDRIVE_TOKEN)
        .json(&json!({"subject": "Demo", "type": "meeting", "user_id": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let violations = fake.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("user_id"), "{violations:?}");
    assert!(fake.live_activities().is_empty());
}
