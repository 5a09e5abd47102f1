//! The validator itself: it accepts what the spec allows and catches a wrong field, a wrong
//! path, an undeclared parameter, a missing credential — both directly and through the fake.

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::support::fake_hubspot::{FakeHubSpot, HUBSPOT_TOKEN};
use crate::support::fake_vendor::{Recorded, check_request};
use crate::support::openapi::Contract;

fn headers(authorized: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    if authorized {
        let value = format!("Bearer {HUBSPOT_TOKEN}");
        headers.insert("authorization", value.parse().unwrap());
    }
    headers
}

fn check(method: &str, path: &str, query: Option<&str>, body: Option<Value>) -> Vec<String> {
    check_with(method, path, query, body, &headers(true))
}

fn check_with(
    method: &str,
    path: &str,
    query: Option<&str>,
    body: Option<Value>,
    headers: &HeaderMap,
) -> Vec<String> {
    let contract = Contract::hubspot().expect("each test returns first without the specs");
    check_request(contract, (method, path, query), body, headers)
}

const MEETINGS: &str = "/crm/objects/2026-03/meetings";

fn search_body() -> Value {
    json!({
        "filterGroups": [{"filters": [
            {"propertyName": "calsync_event_id", "operator": "EQ", "value": "evt-1"}
        ]}],
        "properties": ["calsync_event_id"],
        "sorts": [],
        "limit": 10,
        "after": "0"
    })
}

#[test]
fn conforming_requests_pass() {
    if Contract::hubspot().is_none() {
        return; // skipped: no specs (announced on stderr)
    }
    let create =
        json!({"properties": {"hs_timestamp": "2026-07-01T10:00:00Z"}, "associations": []});
    assert_eq!(
        check("POST", MEETINGS, None, Some(create)),
        Vec::<String>::new()
    );
    let search = format!("{MEETINGS}/search");
    assert_eq!(
        check("POST", &search, None, Some(search_body())),
        Vec::<String>::new()
    );
    let contact = "/crm/v3/objects/contacts/buyer%40prospect.com";
    let query = Some("idProperty=email&properties=email");
    assert_eq!(check("GET", contact, query, None), Vec::<String>::new());
    let links = "/crm/v4/objects/meetings/1001/associations/contacts";
    assert_eq!(
        check("GET", links, Some("limit=500&after=2"), None),
        Vec::<String>::new()
    );
}

#[test]
fn the_validator_catches_what_the_spec_rejects() {
    if Contract::hubspot().is_none() {
        return; // skipped: no specs (announced on stderr)
    }
    let expect = |problems: Vec<String>, needle: &str| {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "expected {needle:?} in {problems:?}"
        );
    };
    // The spec requires associations on create (stricter than the live API: send []).
    let bare = json!({"properties": {"hs_timestamp": "2026-07-01T10:00:00Z"}});
    expect(check("POST", MEETINGS, None, Some(bare)), "associations");
    // ... and sorts on search.
    let mut search = search_body();
    search.as_object_mut().unwrap().remove("sorts");
    expect(
        check("POST", &format!("{MEETINGS}/search"), None, Some(search)),
        "sorts",
    );
    // Property values are strings.
    let numeric = json!({"properties": {"hs_timestamp": 1_782_900_000_000_i64}});
    expect(
        check("PATCH", &format!("{MEETINGS}/1001"), None, Some(numeric)),
        "hs_timestamp",
    );
    // An unknown top-level field.
    let extra = json!({"properties": {}, "archived": true});
    expect(
        check("PATCH", &format!("{MEETINGS}/1001"), None, Some(extra)),
        "archived",
    );
    // A wrong path, a wrong method, an undeclared parameter, no credential, no body.
    expect(
        check("GET", "/crm/v3/objects/meeting", None, None),
        "no such path",
    );
    expect(check("PUT", MEETINGS, None, None), "method is not declared");
    expect(
        check("GET", MEETINGS, Some("limit=1&pageSize=5"), None),
        "pageSize",
    );
    expect(
        check("GET", MEETINGS, Some("limit=ten"), None),
        "not an integer",
    );
    expect(
        check_with("GET", MEETINGS, None, None, &headers(false)),
        "security",
    );
    expect(check("POST", MEETINGS, None, None), "required body");
}

#[tokio::test]
async fn the_fake_refuses_and_records_a_request_the_spec_rejects() {
    if Contract::hubspot().is_none() {
        return; // skipped: no specs (announced on stderr)
    }
    let fake = FakeHubSpot::start().await;
    let answer = reqwest::Client::new()
        .post(format!("{}{MEETINGS}", fake.base_url()))
        .bearer_auth(HUBSPOT_TOKEN)
        .json(&json!({"properties": {"hs_meeting_title": "no associations"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let violations = fake.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("associations"), "{violations:?}");
    assert!(fake.live_meetings().is_empty());
}

#[test]
fn answers_are_checked_against_the_response_schemas() {
    let Some(contract) = Contract::hubspot() else {
        return;
    };
    let good = json!({
        "id": "1001", "properties": {"hs_timestamp": "2026-07-01T10:00:00Z"},
        "createdAt": "2026-07-01T10:00:00Z", "updatedAt": "2026-07-01T10:00:00Z",
        "archived": false
    });
    let good = good.to_string();
    assert!(
        contract
            .check_response("POST", MEETINGS, 201, good.as_bytes())
            .is_empty()
    );
    let missing = json!({"id": "1001", "properties": {}}).to_string();
    let problems = contract.check_response("POST", MEETINGS, 201, missing.as_bytes());
    assert!(
        problems.iter().any(|p| p.contains("createdAt")),
        "{problems:?}"
    );
    let error = json!({"message": "x", "category": "VALIDATION_ERROR"}).to_string();
    let problems = contract.check_response("POST", MEETINGS, 400, error.as_bytes());
    assert!(
        problems.iter().any(|p| p.contains("correlationId")),
        "{problems:?}"
    );
}
