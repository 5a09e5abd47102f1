//! Cross-cutting behaviour of the client against the fake: headers, gzip, timeouts, rate limit,
//! error classification and secrecy of the API key.

use std::time::{Duration, Instant};

use serde_json::json;
use url::Url;

use super::fake::{Canned, FakeNylas, KEY, settings};
use super::*;
use crate::retry::Retry;

fn event_json() -> serde_json::Value {
    json!({"request_id": "r1", "data": {"id": "evt_1", "title": "Demo", "updated_at": 1717000000}})
}

#[tokio::test]
async fn sends_bearer_accept_and_gzip_and_decodes_gzip_answers() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::json(200, event_json()).gzip());
    let event = fake
        .client()
        .get_event("grant_1", "evt_1", "primary")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.id, "evt_1");
    assert_eq!(event.title.as_deref(), Some("Demo"));

    let request = fake.single();
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(request.header("accept"), Some("application/json"));
    let encodings = request.header("accept-encoding").unwrap_or_default();
    assert!(
        encodings.split(',').any(|e| e.trim() == "gzip"),
        "{encodings}"
    );
}

#[tokio::test]
async fn statuses_are_classified() {
    let cases: [(u16, Option<&str>, Retry); 6] = [
        (401, None, Retry::Auth),
        (403, None, Retry::Auth),
        (429, Some("2"), Retry::After(Some(Duration::from_secs(2)))),
        (500, None, Retry::After(None)),
        (504, None, Retry::After(None)),
        (400, None, Retry::Permanent),
    ];
    for (status, retry_after, expected) in cases {
        let fake = FakeNylas::start().await;
        let body =
            json!({"request_id": "r", "error": {"type": "some_type", "message": "went wrong"}});
        let mut canned = Canned::json(status, body);
        if let Some(seconds) = retry_after {
            canned = canned.header("retry-after", seconds);
        }
        fake.then(canned);
        let error = fake.client().list_grants(10, 0).await.unwrap_err();
        assert_eq!(error.retry(), expected, "{status}");
        assert_eq!(error.status(), Some(status));
        let NylasError::Status {
            error_type,
            message,
            ..
        } = &error
        else {
            panic!("{status}: {error:?}");
        };
        assert_eq!(error_type.as_deref(), Some("some_type"));
        assert_eq!(message.as_deref(), Some("went wrong"));
        assert_eq!(
            error.to_string(),
            format!("GET /v3/grants answered HTTP {status}: some_type: went wrong")
        );
    }
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let api = Url::parse(&format!("http://{addr}")).unwrap();
    let client = NylasClient::new(&settings(api), crate::outbound::client().unwrap());
    let error = client.get_event("g", "e", "primary").await.unwrap_err();
    assert!(matches!(error, NylasError::Transport { .. }), "{error:?}");
    assert_eq!(error.retry(), Retry::After(None));
}

#[tokio::test]
async fn the_per_request_timeout_applies() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::hang());
    let mut settings = fake.settings();
    settings.timeout = Duration::from_millis(100);
    let client = NylasClient::new(&settings, crate::outbound::client().unwrap());
    let error = client.list_subscriptions().await.unwrap_err();
    let NylasError::Transport { source, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(source.is_timeout(), "{source:?}");
    assert_eq!(error.retry(), Retry::After(None));
}

#[tokio::test]
async fn a_success_with_an_unreadable_body_is_a_decode_error() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::json(
        200,
        json!({"request_id": "r", "data": {"title": "no id"}}),
    ));
    let error = fake.client().get_event("g", "e", "c").await.unwrap_err();
    assert!(matches!(error, NylasError::Decode { .. }), "{error:?}");
    assert_eq!(error.retry(), Retry::After(None));
}

#[tokio::test]
async fn without_a_key_nothing_is_sent() {
    let fake = FakeNylas::start().await;
    let mut settings = fake.settings();
    settings.api_key = None;
    let client = NylasClient::new(&settings, crate::outbound::client().unwrap());
    let error = client.list_subscriptions().await.unwrap_err();
    assert!(
        matches!(error, NylasError::MissingApiKey { .. }),
        "{error:?}"
    );
    assert_eq!(error.retry(), Retry::Auth);
    assert!(error.to_string().contains("NYLAS_API_KEY"), "{error}");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn unaddressable_ids_are_refused_before_sending() {
    let fake = FakeNylas::start().await;
    let error = fake.client().get_event("g", "..", "c").await.unwrap_err();
    assert!(matches!(error, NylasError::InvalidId { .. }), "{error:?}");
    assert_eq!(error.retry(), Retry::Permanent);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn the_key_never_shows_in_debug_or_errors() {
    let fake = FakeNylas::start().await;
    let client = fake.client();
    assert!(!format!("{client:?}").contains(KEY), "{client:?}");

    // A proxy echoing the request headers into its error body.
    let echo = format!("invalid token: Bearer {KEY}");
    fake.then(Canned::json(
        401,
        json!({"error": {"type": "x", "message": echo}}),
    ));
    let error = client.delete_subscription("wh_1").await.unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn requests_are_spaced_to_the_configured_rate() {
    let fake = FakeNylas::start().await;
    for _ in 0..2 {
        fake.then(Canned::json(200, json!({"data": []})));
    }
    let mut settings = fake.settings();
    settings.requests_per_second = 4;
    let client = NylasClient::new(&settings, crate::outbound::client().unwrap());
    let started = Instant::now();
    // The quota allows a burst of 4, then one request every 250 ms: the limiter is what is
    // measured here, so exhaust the burst without the network.
    if let Some(limiter) = &client.limiter {
        for _ in 0..4 {
            limiter.until_ready().await;
        }
    }
    for _ in 0..2 {
        client.list_subscriptions().await.unwrap();
    }
    // Two requests beyond the burst wait at least one full interval, whatever the scheduling.
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.requests().len(), 2);
    assert!(fake.client().limiter.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_every_request_and_long_pauses_fail_fast() {
    let fake = FakeNylas::start().await;
    let client = fake.client();
    fake.then(
        Canned::json(
            429,
            json!({"error": {"type": "rate_limit", "message": "slow down"}}),
        )
        .header("retry-after", "2"),
    );
    fake.then(Canned::json(200, json!({"data": []})));
    let error = client.list_subscriptions().await.unwrap_err();
    assert_eq!(error.retry(), Retry::After(Some(Duration::from_secs(2))));

    // A clone shares the pause: its next request waits the two seconds out before sending.
    let started = tokio::time::Instant::now();
    client.clone().list_subscriptions().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.requests().len(), 2);

    // A pause longer than a request waits in place fails at once, sending nothing.
    client.gate().pause_for(Duration::from_secs(600));
    let error = client.list_subscriptions().await.unwrap_err();
    let NylasError::HeldBack { wait, .. } = &error else {
        panic!("expected HeldBack, got {error:?}");
    };
    assert!(*wait > Duration::from_secs(590), "{wait:?}");
    assert_eq!(error.retry(), Retry::After(Some(*wait)));
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn healthy_answers_are_recorded_on_the_gate() {
    let fake = FakeNylas::start().await;
    let client = fake.client();
    fake.then(Canned::json(404, json!({"error": {"type": "not_found"}})));
    fake.then(Canned::json(503, json!({"error": {"type": "unavailable"}})));
    let before = client.gate().successes();
    assert!(client.get_event("g", "e", "c").await.unwrap().is_none());
    assert_eq!(client.gate().successes(), before + 1);
    client.get_event("g", "e", "c").await.unwrap_err();
    assert_eq!(client.gate().successes(), before + 1);
}
