//! Webhook management against the fake: paths, bodies, and the secret kept secret.

use secrecy::ExposeSecret;
use serde_json::json;

use super::*;
use crate::nylas::client::fake::{Canned, FakeNylas};
use crate::retry::Retry;

const SECRET: &str = "41dD3-nXTUfebYuk81Gr";

fn destination(with_secret: bool) -> serde_json::Value {
    let mut data = json!({
        "id": "wh_1",
        "description": "calsync",
        "trigger_types": ["event.created", "event.updated"],
        "webhook_url": "https://calsync.example.com/webhooks/nylas",
        "status": "active",
        "notification_email_addresses": ["ops@example.com"]
    });
    if with_secret {
        data["webhook_secret"] = json!(SECRET);
    }
    json!({"request_id": "r", "data": data})
}

#[tokio::test]
async fn create_posts_the_subscription_and_returns_the_secret() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::json(200, destination(true)));
    let new = NewSubscription {
        trigger_types: vec!["event.created".into(), "event.updated".into()],
        webhook_url: "https://calsync.example.com/webhooks/nylas".into(),
        description: Some("calsync".into()),
        notification_email_addresses: vec!["ops@example.com".into()],
    };
    let created = fake.client().create_subscription(&new).await.unwrap();
    assert_eq!(created.id, "wh_1");
    assert_eq!(created.webhook_secret.expose_secret(), SECRET);
    assert_eq!(created.status.as_deref(), Some("active"));
    assert_eq!(created.trigger_types, ["event.created", "event.updated"]);
    assert!(!format!("{created:?}").contains(SECRET));

    let request = fake.single();
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v3/webhooks")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({
            "trigger_types": ["event.created", "event.updated"],
            "webhook_url": "https://calsync.example.com/webhooks/nylas",
            "description": "calsync",
            "notification_email_addresses": ["ops@example.com"]
        })
    );
}

#[tokio::test]
async fn create_leaves_unset_optional_fields_out() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::json(200, destination(true)));
    let new = NewSubscription {
        trigger_types: vec!["event.deleted".into()],
        webhook_url: "https://h/w".into(),
        description: None,
        notification_email_addresses: Vec::new(),
    };
    fake.client().create_subscription(&new).await.unwrap();
    assert_eq!(
        fake.single().json(),
        json!({"trigger_types": ["event.deleted"], "webhook_url": "https://h/w"})
    );
}

#[tokio::test]
async fn a_refused_url_is_a_permanent_error_with_the_reason() {
    let fake = FakeNylas::start().await;
    let refusal = json!({"request_id": "r", "error": {"type": "70005",
        "message": "unable.verify.webhook_url : status is not ok, got 404"}});
    fake.then(Canned::json(400, refusal));
    let new = NewSubscription {
        trigger_types: vec!["event.created".into()],
        webhook_url: "https://h/w".into(),
        description: None,
        notification_email_addresses: Vec::new(),
    };
    let error = fake.client().create_subscription(&new).await.unwrap_err();
    assert_eq!(error.retry(), Retry::Permanent);
    assert!(
        error.to_string().contains("unable.verify.webhook_url"),
        "{error}"
    );
}

#[tokio::test]
async fn list_reads_destinations_and_skips_broken_ones() {
    let fake = FakeNylas::start().await;
    let mut answer = destination(false);
    let good = answer["data"].clone();
    answer["data"] = json!([good, {"description": "no id"}, {"id": "wh_2", "status": "failed"}]);
    fake.then(Canned::json(200, answer));
    let subscriptions = fake.client().list_subscriptions().await.unwrap();
    assert_eq!(subscriptions.len(), 2);
    assert_eq!(
        subscriptions[0].url.as_deref(),
        Some("https://calsync.example.com/webhooks/nylas")
    );
    assert_eq!(
        subscriptions[0].notification_email_addresses,
        ["ops@example.com"]
    );
    assert_eq!(subscriptions[1].status.as_deref(), Some("failed"));
    assert!(subscriptions[1].trigger_types.is_empty());

    let request = fake.single();
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/v3/webhooks")
    );
    assert_eq!(request.raw_query, None);
}

#[tokio::test]
async fn rotate_posts_to_the_rotate_secret_path() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::json(200, destination(true)));
    let rotated = fake
        .client()
        .rotate_subscription_secret("wh/1+")
        .await
        .unwrap();
    assert_eq!(rotated.webhook_secret.expose_secret(), SECRET);
    let request = fake.single();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v3/webhooks/rotate-secret/wh%2F1%2B");
}

#[tokio::test]
async fn delete_sends_delete_to_the_subscription() {
    let fake = FakeNylas::start().await;
    fake.then(Canned::json(
        200,
        json!({"request_id": "r", "data": {"status": "success"}}),
    ));
    fake.client().delete_subscription("wh_1").await.unwrap();
    let request = fake.single();
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("DELETE", "/v3/webhooks/wh_1")
    );
    assert!(request.body.is_empty());
}
