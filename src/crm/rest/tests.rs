//! The REST adapter against the scripted fake CRM of [`super::fake`].

use std::time::Duration;

use serde_json::Value;

use super::fake::{FakeCrm, KEY};
use super::*;
use crate::record::{Attendee, MeetingStatus, RsvpStatus};
use crate::retry::Retry;

fn record() -> MeetingRecord {
    MeetingRecord {
        event_id: "evt/1+x".into(),
        grant_id: "grant_a".into(),
        provider_calendar_id: Some("primary".into()),
        meeting_subject: "Demo".into(),
        meeting_status: MeetingStatus::Confirmed,
        meeting_date: "2026-07-01T10:00:00Z".parse().unwrap(),
        meeting_end_date: "2026-07-01T10:45:00Z".parse().unwrap(),
        duration_minutes: 45,
        all_day: false,
        timezone: None,
        meeting_location: None,
        meeting_link: None,
        notes: Some("secret agenda".into()),
        organizer_email: Some("rep@example.com".into()),
        attendees: vec![Attendee {
            email: "buyer@prospect.com".into(),
            name: None,
            rsvp_status: RsvpStatus::Yes,
        }],
        is_recurring: false,
        master_event_id: None,
        series_label: None,
        ical_uid: None,
        source_updated_at: None,
        private: false,
        owner_email: None,
    }
}

/// The query that selects the test record.
const BY_ID: &str = "external_event_id=evt%2F1%2Bx";

fn by_id(method: &str) -> (String, Option<String>) {
    (method.to_owned(), Some(BY_ID.to_owned()))
}

#[tokio::test]
async fn create_posts_the_record_as_is_with_the_bearer_key() {
    let crm = FakeCrm::start().await;
    crm.then(201, r#"{"id": "crm-42"}"#);
    let outcome = crm
        .adapter()
        .upsert(&record(), ExistingRecord::None)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        UpsertOutcome {
            crm_record_id: "crm-42".into(),
            created: true
        }
    );

    let seen = &crm.seen()[0];
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("POST", "/api/meetings")
    );
    assert_eq!(seen.query, None);
    let body: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(body, serde_json::to_value(record()).unwrap());
    let auth = seen.headers.get("authorization").unwrap().to_str().unwrap();
    assert_eq!(auth, format!("Bearer {KEY}"));
}

#[tokio::test]
async fn the_crm_id_is_read_as_string_or_number_else_ours() {
    let crm = FakeCrm::start().await;
    crm.then(200, r#"{"id": 1234}"#)
        .then(201, "")
        .then(200, r#"{"id": ""}"#);
    let adapter = crm.adapter();
    for expected in ["1234", "evt/1+x", "evt/1+x"] {
        let outcome = adapter
            .upsert(&record(), ExistingRecord::None)
            .await
            .unwrap();
        assert_eq!(outcome.crm_record_id, expected);
    }
}

#[tokio::test]
async fn a_known_record_is_put_by_external_id() {
    let crm = FakeCrm::start().await;
    crm.then(204, "");
    let outcome = crm
        .adapter()
        .upsert(&record(), ExistingRecord::Known(&"crm-7".into()))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        UpsertOutcome {
            crm_record_id: "crm-7".into(),
            created: false
        }
    );
    assert_eq!(crm.calls(), [by_id("PUT")]);
    let body: Value = serde_json::from_slice(&crm.seen()[0].body).unwrap();
    assert_eq!(body["external_event_id"], "evt/1+x");
}

#[tokio::test]
async fn a_put_answered_404_creates_the_record_again() {
    let crm = FakeCrm::start().await;
    crm.then(404, "").then(201, r#"{"id": "crm-8"}"#);
    let outcome = crm
        .adapter()
        .upsert(&record(), ExistingRecord::Known(&"crm-7".into()))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        UpsertOutcome {
            crm_record_id: "crm-8".into(),
            created: true
        }
    );
    assert_eq!(crm.calls(), [by_id("PUT"), ("POST".into(), None)]);
}

#[tokio::test]
async fn an_uncertain_record_that_exists_is_updated() {
    let crm = FakeCrm::start().await;
    crm.then(200, r#"{"id": "crm-9", "meeting_subject": "Demo"}"#)
        .then(200, "{}");
    let outcome = crm
        .adapter()
        .upsert(&record(), ExistingRecord::Uncertain)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        UpsertOutcome {
            crm_record_id: "crm-9".into(),
            created: false
        }
    );
    assert_eq!(crm.calls(), [by_id("GET"), by_id("PUT")]);
}

#[tokio::test]
async fn an_uncertain_record_that_is_missing_is_created() {
    let crm = FakeCrm::start().await;
    crm.then(404, "").then(201, r#"{"id": "crm-10"}"#);
    let outcome = crm
        .adapter()
        .upsert(&record(), ExistingRecord::Uncertain)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        UpsertOutcome {
            crm_record_id: "crm-10".into(),
            created: true
        }
    );
    assert_eq!(crm.calls(), [by_id("GET"), ("POST".into(), None)]);
}

#[tokio::test]
async fn soft_delete_deletes_by_external_id_and_404_is_done() {
    let crm = FakeCrm::start().await;
    crm.then(204, "").then(404, "").then(500, "boom");
    let adapter = crm.adapter();
    adapter
        .soft_delete(&"evt/1+x".into(), &"crm-1".into())
        .await
        .unwrap();
    adapter
        .soft_delete(&"evt/1+x".into(), &"crm-1".into())
        .await
        .unwrap();
    let error = adapter
        .soft_delete(&"evt/1+x".into(), &"crm-1".into())
        .await
        .unwrap_err();
    assert_eq!(error.retry(), Retry::After(None));
    assert_eq!(
        crm.calls(),
        [by_id("DELETE"), by_id("DELETE"), by_id("DELETE")]
    );
}

#[tokio::test]
async fn a_422_is_permanent_and_quotes_only_the_answer() {
    let crm = FakeCrm::start().await;
    let long = format!(
        r#"{{"message": "meeting_date is invalid", "pad": "{}"}}"#,
        "x".repeat(500)
    );
    crm.then(422, &long);
    let error = crm
        .adapter()
        .upsert(&record(), ExistingRecord::None)
        .await
        .unwrap_err();
    assert_eq!(error.retry(), Retry::Permanent);
    let CrmError::Status {
        status,
        message,
        operation,
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((*status, *operation), (422, "rest create"));
    assert!(message.contains("meeting_date is invalid"), "{message}");
    assert!(message.chars().count() <= 201, "{message}");
    let shown = format!("{error} {error:?}");
    assert!(
        !shown.contains("secret agenda") && !shown.contains(KEY),
        "{shown}"
    );
}

#[tokio::test]
async fn throttling_and_auth_are_classified() {
    let crm = FakeCrm::start().await;
    crm.then_with(429, vec![("retry-after", "2")], "slow down");
    crm.then(401, &format!("bad token {KEY}"));
    crm.then(503, "");
    let adapter = crm.adapter();
    let throttled = adapter
        .upsert(&record(), ExistingRecord::Known(&"c".into()))
        .await
        .unwrap_err();
    assert_eq!(
        throttled.retry(),
        Retry::After(Some(Duration::from_secs(2)))
    );
    let refused = adapter
        .upsert(&record(), ExistingRecord::Uncertain)
        .await
        .unwrap_err();
    assert_eq!(refused.retry(), Retry::Auth);
    assert!(!refused.to_string().contains(KEY), "{refused}");
    let unavailable = adapter
        .soft_delete(&"e".into(), &"c".into())
        .await
        .unwrap_err();
    assert_eq!(
        unavailable.to_string(),
        "rest delete answered HTTP 503: (empty body)"
    );
    // The uncertain upsert stopped at the failed look-up: no blind POST.
    assert_eq!(crm.calls().len(), 3);
}

#[tokio::test]
async fn check_reads_the_collection_then_a_harmless_record() {
    let crm = FakeCrm::start().await;
    // The collection answers (a list, or 405 for a CRM without one); the look-up's 404 or 200
    // both pass.
    crm.then(200, "[]").then(404, "");
    crm.then(405, "").then(200, "{}");
    let adapter = crm.adapter();
    adapter.check().await.unwrap();
    adapter.check().await.unwrap();
    let seen = crm.seen();
    assert_eq!(
        seen.iter()
            .map(|seen| (
                seen.method.as_str(),
                seen.path.as_str(),
                seen.query.as_deref()
            ))
            .collect::<Vec<_>>(),
        [
            ("GET", "/api/meetings", None),
            (
                "GET",
                "/api/meetings",
                Some("external_event_id=calsync-check")
            ),
            ("GET", "/api/meetings", None),
            (
                "GET",
                "/api/meetings",
                Some("external_event_id=calsync-check")
            ),
        ]
    );
    assert!(
        seen.iter()
            .all(|seen| seen.headers.contains_key("authorization"))
    );
}

#[tokio::test]
async fn check_fails_naming_the_url_when_the_collection_is_not_there() {
    let crm = FakeCrm::start().await;
    crm.then(404, "")
        .then(403, "forbidden")
        .then(200, "[]")
        .then(401, "");
    crm.then_with(
        301,
        vec![("location", "https://elsewhere.example/api/meetings")],
        "",
    );
    // calsync's client follows no redirect: neither does this one.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let transport = crate::crm::transport::CrmTransport::new(client, "rest", 0, Default::default());
    let adapter = RestAdapter::new(&crm.settings(), transport);
    let endpoint = format!("{}api/meetings", crm.settings().base_url);

    let missing = adapter.check().await.unwrap_err();
    assert_eq!(missing.retry(), Retry::Permanent);
    let text = missing.to_string();
    assert!(
        text.contains(&format!("nothing at GET {endpoint}")),
        "{text}"
    );
    assert!(text.contains("crm.meetings_path"), "{text}");

    let refused = adapter.check().await.unwrap_err();
    assert_eq!(refused.retry(), Retry::Auth);
    let refused = crate::cause::Chain(&refused).to_string();
    assert!(refused.contains(&format!("GET {endpoint}:")), "{refused}");

    let lookup = adapter.check().await.unwrap_err();
    assert_eq!(lookup.retry(), Retry::Auth);
    let text = crate::cause::Chain(&lookup).to_string();
    assert!(
        text.contains(&format!("GET {endpoint}?external_event_id=calsync-check")),
        "{text}"
    );

    let moved = crate::cause::Chain(&adapter.check().await.unwrap_err()).to_string();
    assert!(
        moved.contains("redirect to https://elsewhere.example/api/meetings"),
        "{moved}"
    );
    assert!(!format!("{missing}{refused}{lookup}{moved}").contains(KEY));
}

#[tokio::test]
async fn no_key_no_authorization_header() {
    let crm = FakeCrm::start().await;
    crm.then(200, "[]").then(404, "");
    let mut settings = crm.settings();
    settings.api_key = None;
    RestAdapter::new(&settings, transport())
        .check()
        .await
        .unwrap();
    assert!(!crm.seen()[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let crm = FakeCrm::start().await;
    let mut settings = crm.settings();
    settings.base_url = Url::parse(&format!("http://{addr}")).unwrap();
    let adapter = RestAdapter::new(&settings, transport());
    let error = adapter.check().await.unwrap_err();
    assert!(matches!(error, CrmError::Transport { .. }), "{error:?}");
    assert_eq!(error.retry(), Retry::After(None));
    // The check names the URL it tried.
    let shown = crate::cause::Chain(&error).to_string();
    assert!(
        shown.contains(&format!("http://{addr}/api/meetings")),
        "{shown}"
    );
}

#[test]
fn the_target_and_url_keep_a_base_path_prefix() {
    let settings = |base: &str, path: &str| RestCrmSettings {
        base_url: Url::parse(base).unwrap(),
        api_key: Some(SecretString::from(KEY)),
        meetings_path: path.into(),
        timeout: Duration::from_secs(1),
        owner: Default::default(),
    };
    let plain = RestAdapter::new(
        &settings("https://crm.example.com", "/api/meetings"),
        transport(),
    );
    assert_eq!(plain.target(), "rest:https://crm.example.com/api/meetings");
    assert_eq!(plain.kind(), "rest");
    let prefixed = RestAdapter::new(
        &settings("https://h.example/tenant-1/", "meetings"),
        transport(),
    );
    assert_eq!(
        prefixed.target(),
        "rest:https://h.example/tenant-1/meetings"
    );
}

/// A transport without a rate cap, with its own metrics.
fn transport() -> crate::crm::transport::CrmTransport {
    crate::crm::transport::CrmTransport::new(
        crate::outbound::client().unwrap(),
        "rest",
        0,
        Default::default(),
    )
}
