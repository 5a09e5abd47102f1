//! The webhook HTTP contract of `architecture.md`, row by row, against the real router.

use std::io::Write;

use calsync::http::verify::sign;
use calsync::store::NotificationFilter;
use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::harness::{SECRET, TestApp};
use crate::support::payloads::{envelope, event};

/// The Nylas Java SDK test vector (nylas.md).
const SDK_SECRET: &str = "UfZWFrkjsbg5bxLbax-y";
const SDK_BODY: &str = r#"{"specversion":"1.0","type":"grant.deleted","source":"/nylas/system","id":"Kkx2QQB7TWjWM3KXRQQn562394","time":1717162394,"webhook_delivery_attempt":1,"data":{"application_id":"a7966b5a-9bc2-44b7-9895-4e2b281ce6be","object":{"code":25013,"grant_id":"4c22c3c5-d163-48b6-ad95-45fedc879683","integration_id":"b7dd6e6e-af6a-463b-92fa-be35c2683f5c","metric":1934,"provider":"google"}}}"#;
const SDK_SIGNATURE: &str = "a4534f7e68dcd54f0621f7539ddd5a0d14a9a46ace9b68a4cfd9c99b4b6b89cc";

async fn stored_count(app: &TestApp) -> usize {
    app.store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn the_challenge_is_echoed_as_plain_text() {
    let app = TestApp::builder()
        .with_config(|settings| settings.nylas.webhook_secrets.clear())
        .spawn()
        .await;
    let response = app
        .http
        .get(format!("{}?challenge=abc-123_XYZ", app.webhook_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "abc-123_XYZ");

    let missing = app.http.get(app.webhook_url()).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn signature_problems_answer_401_and_store_nothing() {
    let app = TestApp::spawn().await;
    let body = serde_json::to_vec(&envelope(
        "n1",
        "event.created",
        event("e1", "g1", "c1", "T", 1),
    ))
    .unwrap();
    let cases: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("x-nylas-signature", "not-hex".to_string())],
        vec![("x-nylas-signature", sign(SECRET, &body)[..60].to_string())],
        vec![("x-nylas-signature", sign("some-other-secret", &body))],
        vec![("X-NYLAS-SIGNATURE", sign(SECRET, b"{}"))],
    ];
    for headers in cases {
        let response = app.post_raw(body.clone(), &headers).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{headers:?}");
    }
    assert_eq!(stored_count(&app).await, 0);
    // The header name is case-insensitive.
    let response = app
        .post_raw(body.clone(), &[("X-Nylas-Signature", sign(SECRET, &body))])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(stored_count(&app).await, 1);
}

#[tokio::test]
async fn the_nylas_sdk_test_vector_is_accepted() {
    let app = TestApp::builder()
        .with_config(|settings| {
            settings.nylas.webhook_secrets = vec![SDK_SECRET.to_string().into()];
        })
        .spawn()
        .await;
    let response = app
        .post_raw(
            SDK_BODY.as_bytes().to_vec(),
            &[("x-nylas-signature", SDK_SIGNATURE.to_string())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let stored = app
        .store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, "Kkx2QQB7TWjWM3KXRQQn562394");
    assert_eq!(stored[0].body, SDK_BODY.as_bytes());
}

#[tokio::test]
async fn any_of_two_configured_secrets_verifies() {
    let app = TestApp::builder()
        .with_config(|settings| {
            settings
                .nylas
                .webhook_secrets
                .push("second-secret".to_string().into());
        })
        .spawn()
        .await;
    for (index, secret) in [SECRET, "second-secret"].into_iter().enumerate() {
        let body = serde_json::to_vec(&envelope(
            &format!("n{index}"),
            "event.created",
            event("e1", "g1", "c1", "T", 1),
        ))
        .unwrap();
        let response = app
            .post_raw(body.clone(), &[("x-nylas-signature", sign(secret, &body))])
            .await;
        assert_eq!(response.status(), StatusCode::OK, "secret {index}");
    }
}

#[tokio::test]
async fn oversized_bodies_answer_413() {
    let app = TestApp::builder()
        .with_config(|settings| settings.server.max_body_bytes = 1024)
        .spawn()
        .await;
    let body = vec![b' '; 2048];
    let response = app
        .post_raw(body.clone(), &[("x-nylas-signature", sign(SECRET, &body))])
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A small gzip body that inflates past the limit is refused too.
    let mut padded = envelope("n1", "event.created", event("e1", "g1", "c1", "T", 1));
    padded["padding"] = json!("x".repeat(4096));
    let compressed = gzip(&serde_json::to_vec(&padded).unwrap());
    assert!(compressed.len() < 1024);
    let response = app
        .post_raw(
            compressed.clone(),
            &[
                ("x-nylas-signature", sign(SECRET, &compressed)),
                ("content-encoding", "gzip".to_string()),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(stored_count(&app).await, 0);
}

#[tokio::test]
async fn signed_but_unusable_bodies_answer_400() {
    let app = TestApp::spawn().await;
    let bodies = [
        b"not json at all".to_vec(),
        br#"{"hello":"world"}"#.to_vec(),
        serde_json::to_vec(&envelope(
            "n1",
            "event.updated",
            json!({"grant_id": "g1", "title": "no id"}),
        ))
        .unwrap(),
        serde_json::to_vec(&json!({"id": "n2", "type": "event.created", "data": {}})).unwrap(),
    ];
    for body in bodies {
        let response = app
            .post_raw(body.clone(), &[("x-nylas-signature", sign(SECRET, &body))])
            .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    assert_eq!(stored_count(&app).await, 0);
}

#[tokio::test]
async fn unhandled_triggers_are_acknowledged_and_ignored() {
    let app = TestApp::spawn().await;
    let status = app
        .notify(&envelope(
            "n1",
            "message.created",
            json!({"id": "m1", "grant_id": "g1"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored_count(&app).await, 0);
    assert!(app.drain().await.is_empty());
}

#[tokio::test]
async fn no_configured_secret_answers_503() {
    let app = TestApp::builder()
        .with_config(|settings| settings.nylas.webhook_secrets.clear())
        .spawn()
        .await;
    let status = app
        .notify(&envelope(
            "n1",
            "event.created",
            event("e1", "g1", "c1", "T", 1),
        ))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn gzip_bodies_are_verified_compressed_and_stored_decompressed() {
    let app = TestApp::spawn().await;
    let json = serde_json::to_vec(&envelope(
        "n1",
        "event.created",
        event("e1", "g1", "c1", "T", 1),
    ))
    .unwrap();
    let compressed = gzip(&json);
    let response = app
        .post_raw(
            compressed.clone(),
            &[
                ("x-nylas-signature", sign(SECRET, &compressed)),
                ("content-encoding", "gzip".to_string()),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let stored = app
        .store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    assert_eq!(stored[0].body, json);

    // Signed over the decompressed JSON instead of the bytes sent: rejected.
    let response = app
        .post_raw(
            compressed,
            &[
                ("x-nylas-signature", sign(SECRET, &json)),
                ("content-encoding", "gzip".to_string()),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn health_endpoints_answer() {
    let app = TestApp::spawn().await;
    let base = format!("http://{}", app.address);
    let healthz = app
        .http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), StatusCode::OK);
    let readyz = app.http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), StatusCode::OK);

    app.draining.cancel();
    let readyz = app.http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), StatusCode::SERVICE_UNAVAILABLE);
    let status = app
        .notify(&envelope(
            "n1",
            "event.created",
            event("e1", "g1", "c1", "T", 1),
        ))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn metrics_count_notifications_by_type_and_result() {
    let app = TestApp::spawn().await;
    let notification = envelope("n1", "event.created", event("e1", "g1", "c1", "T", 1));
    app.notify(&notification).await;
    app.notify(&notification).await;
    app.post_raw(b"{}".to_vec(), &[]).await;
    let text = app.scrape().await;
    for expected in [
        r#"calsync_notifications_received_total{trigger="event.created",result="accepted"} 1"#,
        r#"calsync_notifications_received_total{trigger="event.created",result="duplicate"} 1"#,
        r#"calsync_notifications_received_total{trigger="unknown",result="bad_signature"} 1"#,
        r#"calsync_jobs{state="pending"} 1"#,
        "calsync_ingest_seconds_count 2",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
