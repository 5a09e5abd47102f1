//! Item 11: `calsync webhook create|list|rotate-secret|delete` against the fake Nylas, and the
//! webhook status monitor.

use calsync::background::subscription_monitor::{MonitorError, SubscriptionMonitor};
use calsync::commands::subscriptions::{self, CreateArgs, SubscriptionCommandError, TRIGGERS};
use calsync::telemetry::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

use crate::support::fake_crm::Scripted;
use crate::support::harness::TestApp;

fn output(buffer: Vec<u8>) -> String {
    String::from_utf8(buffer).unwrap()
}

#[tokio::test]
async fn create_passes_the_challenge_and_prints_the_secret_once() {
    let app = TestApp::spawn().await;
    let args = CreateArgs {
        url: Url::parse(&app.webhook_url()).unwrap(),
        emails: vec![
            "ops@example.com".to_string(),
            "oncall@example.com".to_string(),
        ],
        description: None,
    };
    let mut out = Vec::new();
    let created = subscriptions::create(&app.parts.nylas, &args, &mut out)
        .await
        .unwrap();
    let out = output(out);

    let held = app.nylas.webhooks();
    assert_eq!(held.len(), 1);
    let secret = &held[0].secret;
    assert_eq!(out.matches(secret.as_str()).count(), 1, "{out}");
    assert!(
        out.contains(&format!("Created webhook {}", created.id)),
        "{out}"
    );
    assert!(out.contains("challenge GET"), "{out}");
    assert!(out.contains("NYLAS_WEBHOOK_SECRET") && out.contains("nylas.webhook_secrets"));
    assert_eq!(held[0].triggers, TRIGGERS);
    assert_eq!(held[0].url, app.webhook_url());
    assert_eq!(held[0].description.as_deref(), Some("calsync"));
    assert_eq!(held[0].emails, ["ops@example.com", "oncall@example.com"]);
    assert!(!format!("{created:?}").contains(secret.as_str()));
}

#[tokio::test]
async fn create_fails_clearly_when_nothing_answers_the_challenge() {
    let app = TestApp::spawn().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhooks/nylas", closed.local_addr().unwrap());
    drop(closed);
    let args = CreateArgs {
        url: Url::parse(&url).unwrap(),
        emails: Vec::new(),
        description: Some("staging".to_string()),
    };
    let error = subscriptions::create(&app.parts.nylas, &args, &mut Vec::new())
        .await
        .unwrap_err();
    assert!(
        matches!(error, SubscriptionCommandError::Create(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("challenge"), "{error}");
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("400"), "{cause}");
    assert!(app.nylas.webhooks().is_empty());
}

#[tokio::test]
async fn list_rotate_and_delete() {
    let app = TestApp::spawn().await;
    let old_secret = app.nylas.add_subscription(
        "wh-1",
        "https://calsync.example.com/webhooks/nylas",
        "active",
        &TRIGGERS,
    );
    app.nylas.add_subscription(
        "wh-2",
        "https://old.example.com/hook",
        "failed",
        &["event.updated"],
    );

    let mut out = Vec::new();
    let listed = subscriptions::list(&app.parts.nylas, &mut out)
        .await
        .unwrap();
    let out = output(out);
    assert_eq!(listed.len(), 2);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ID ") && lines[0].ends_with("TRIGGERS"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("wh-1  active  https://calsync.example.com/webhooks/nylas"),
        "{out}"
    );
    assert!(lines[1].ends_with(&TRIGGERS.join(",")), "{out}");
    assert!(lines[2].starts_with("wh-2  failed"), "{out}");
    assert!(
        out.contains("note: wh-2 is failed: Nylas has stopped sending"),
        "{out}"
    );
    assert!(
        !out.contains(old_secret.as_str()),
        "list never shows a secret"
    );

    let mut out = Vec::new();
    subscriptions::rotate_secret(&app.parts.nylas, "wh-1", &mut out)
        .await
        .unwrap();
    let out = output(out);
    let new_secret = app.nylas.webhooks()[0].secret.clone();
    assert_ne!(new_secret, old_secret);
    assert_eq!(out.matches(new_secret.as_str()).count(), 1, "{out}");
    assert!(
        out.contains("The old secret stopped working at once"),
        "{out}"
    );
    assert!(
        app.nylas
            .requests()
            .contains(&"/v3/webhooks/rotate-secret/wh-1".to_string()),
        "{:?}",
        app.nylas.requests()
    );

    let mut out = Vec::new();
    subscriptions::delete(&app.parts.nylas, "wh-2", &mut out)
        .await
        .unwrap();
    assert!(output(out).contains("Deleted webhook wh-2"));
    let ids: Vec<String> = app.nylas.webhooks().into_iter().map(|w| w.id).collect();
    assert_eq!(ids, ["wh-1"]);
    let missing = subscriptions::delete(&app.parts.nylas, "wh-2", &mut Vec::new())
        .await
        .unwrap_err();
    let cause = std::error::Error::source(&missing).unwrap().to_string();
    assert!(cause.contains("404"), "{cause}");
}

#[tokio::test]
async fn the_monitor_counts_watched_subscriptions_by_status_on_one_replica() {
    let app = TestApp::spawn().await;
    let events = ["event.created", "event.updated", "event.deleted"];
    app.nylas
        .add_subscription("wh-1", "https://a.example.com/hook", "active", &events);
    app.nylas
        .add_subscription("wh-2", "https://b.example.com/hook", "failing", &events);
    app.nylas.add_subscription(
        "wh-3",
        "https://c.example.com/hook",
        "failed",
        &["message.created"],
    );

    let monitor = app.app.subscription_monitor();
    let assessment = monitor.check_once().await.unwrap().expect("lock taken");
    let unhealthy: Vec<&str> = assessment.unhealthy().map(|w| w.id.as_str()).collect();
    assert_eq!(unhealthy, ["wh-2"], "wh-3 delivers no event notifications");
    let text = app.parts.metrics.render();
    assert!(
        text.contains(r#"calsync_webhooks{status="active"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"calsync_webhooks{status="failing"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"calsync_webhooks{status="failed"} 0"#),
        "{text}"
    );

    // Another replica (its own metrics) does not check, and reports zero for every status, so
    // a sum over replicas counts each webhook once.
    let other_metrics = Arc::new(Metrics::new());
    other_metrics.set_subscriptions([("failing", 1)]);
    let other_replica = SubscriptionMonitor::new(
        app.parts.nylas.clone(),
        app.store.clone(),
        other_metrics.clone(),
        app.parts.clock,
        "another-replica".to_string(),
        Duration::from_secs(300),
    );
    assert!(other_replica.check_once().await.unwrap().is_none());
    let other_text = other_metrics.render();
    for status in ["active", "pause", "failing", "failed"] {
        let zero = format!("calsync_webhooks{{status=\"{status}\"}} 0");
        assert!(other_text.contains(&zero), "{other_text}");
    }
    let lists = |app: &TestApp| {
        app.nylas
            .requests()
            .iter()
            .filter(|r| r.as_str() == "/v3/webhooks")
            .count()
    };
    assert_eq!(lists(&app), 1, "the other replica did not ask Nylas");

    app.nylas.set_subscription_status("wh-2", "active");
    let assessment = monitor.check_once().await.unwrap().expect("lock renewed");
    assert!(assessment.healthy());
    let text = app.parts.metrics.render();
    assert!(
        text.contains(r#"calsync_webhooks{status="active"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"calsync_webhooks{status="failing"} 0"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_failed_check_is_an_error_and_keeps_the_last_known_gauge() {
    let app = TestApp::spawn().await;
    let events = ["event.created", "event.updated", "event.deleted"];
    app.nylas
        .add_subscription("wh-1", "https://a.example.com/hook", "failed", &events);
    let monitor = app.app.subscription_monitor();
    monitor.check_once().await.unwrap();
    app.nylas.script([Scripted {
        status: 503,
        retry_after: None,
    }]);
    let error = monitor.check_once().await.unwrap_err();
    assert!(matches!(error, MonitorError::Nylas(_)), "{error}");
    let shown = calsync::cause::chain(&error);
    assert!(shown.contains("503"), "{shown}");
    let text = app.parts.metrics.render();
    assert!(
        text.contains(r#"calsync_webhooks{status="failed"} 1"#),
        "{text}"
    );
}
