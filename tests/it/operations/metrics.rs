//! Item 8: after a realistic run, `/metrics` exports every metric the issue lists with the
//! labels the README documents, and the README's Metrics table names exactly the exported
//! metrics. Item 10: pruning the notification log.

use std::collections::BTreeMap;

use calsync::http::verify::sign;
use calsync::store::NotificationFilter;
use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use reqwest::StatusCode;
use serde_json::json;

use super::{hours_ago, log_notification};
use crate::support::fake_crm::Scripted;
use crate::support::harness::{SECRET, TestApp};
use crate::support::payloads::{deleted_object, envelope, event};

const GRANT: &str = "grant-1";
const CALENDAR: &str = "primary";

/// Metric name → type, from the `# TYPE` lines of a scrape (families without samples are not
/// rendered).
fn exported(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(name, kind)| (name.to_string(), kind.to_string()))
        .collect()
}

/// The names registered in `src/telemetry/metrics.rs`, as scraped (prefixed; counters with
/// `_total`), given the documented types.
fn registered() -> Vec<String> {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/telemetry/metrics.rs"
    ))
    .expect("read the metrics registry");
    source
        .split("registry.register(")
        .skip(1)
        .filter_map(|rest| rest.trim_start().strip_prefix('"')?.split('"').next())
        .map(|name| format!("calsync_{name}"))
        .collect()
}

/// Metric name → type, from the table of the README's `## Metrics` section.
fn documented() -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let section = readme
        .split("\n## Metrics\n")
        .nth(1)
        .expect("README has a Metrics section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|line| line.starts_with("| `calsync_"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_string(), cells[2].to_string())
        })
        .collect()
}

/// `calsync_{name}{k="v",…}` from `k=v,…` (values without commas).
fn sample_name(name: &str, labels: &str) -> String {
    if labels.is_empty() {
        return format!("calsync_{name}");
    }
    let labels: Vec<String> = labels
        .split(',')
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap();
            format!("{key}=\"{value}\"")
        })
        .collect();
    format!("calsync_{name}{{{}}}", labels.join(","))
}

fn value_of(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
}

#[tokio::test]
async fn a_realistic_run_exports_every_documented_metric() {
    let app = TestApp::spawn().await;
    let mut first = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    app.nylas.put_event(first.clone());
    let created = envelope("n1", "event.created", first.clone());
    assert_eq!(app.notify(&created).await, StatusCode::OK);
    assert_eq!(app.notify(&created).await, StatusCode::OK, "duplicate");
    let ignored = envelope("n-msg", "message.created", json!({"id": "m1"}));
    assert_eq!(app.notify(&ignored).await, StatusCode::OK);
    let forged = serde_json::to_vec(&envelope("n-x", "event.created", first.clone())).unwrap();
    let wrong = sign("not-the-secret", &forged);
    let response = app.post_raw(forged, &[("x-nylas-signature", wrong)]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let junk = b"[1, 2, 3]".to_vec();
    let signature = sign(SECRET, &junk);
    let response = app
        .post_raw(junk, &[("x-nylas-signature", signature)])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);

    first["title"] = json!("Demo, renamed");
    first["updated_at"] = json!(200);
    app.nylas.put_event(first.clone());
    app.notify(&envelope("n2", "event.updated", first.clone()))
        .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    first["updated_at"] = json!(300);
    app.nylas.put_event(first.clone());
    app.notify(&envelope("n3", "event.updated", first.clone()))
        .await;
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::Unchanged)]
    );
    app.nylas.remove_event(GRANT, "evt-1");
    let deleted = deleted_object("evt-1", GRANT, CALENDAR);
    app.notify(&envelope("n4", "event.deleted", deleted)).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Deleted)]);

    // A CRM failure, a Nylas failure and rejected CRM credentials leave three jobs retrying.
    app.nylas
        .put_event(event("evt-2", GRANT, CALENDAR, "Call", 100));
    app.crm.script([Scripted {
        status: 503,
        retry_after: None,
    }]);
    app.notify(&envelope(
        "n5",
        "event.created",
        event("evt-2", GRANT, CALENDAR, "Call", 100),
    ))
    .await;
    assert!(matches!(app.drain().await[..], [Settled::RetryLater(_)]));
    app.nylas.script([Scripted {
        status: 500,
        retry_after: None,
    }]);
    app.notify(&envelope(
        "n6",
        "event.created",
        event("evt-3", GRANT, CALENDAR, "Lunch", 100),
    ))
    .await;
    assert!(matches!(app.drain().await[..], [Settled::RetryLater(_)]));
    app.nylas
        .put_event(event("evt-4", GRANT, CALENDAR, "Sync", 100));
    app.crm.script([Scripted {
        status: 401,
        retry_after: None,
    }]);
    app.notify(&envelope(
        "n7",
        "event.created",
        event("evt-4", GRANT, CALENDAR, "Sync", 100),
    ))
    .await;
    // A rejected CRM key is the target's fault: the job waits without counting an attempt.
    assert!(matches!(app.drain().await[..], [Settled::Deferred(_)]));

    app.nylas.add_subscription(
        "wh-1",
        "https://calsync.example.com/webhooks/nylas",
        "failing",
        &["event.created", "event.updated", "event.deleted"],
    );
    let checked = app.app.subscription_monitor().check_once().await.unwrap();
    assert!(checked.is_some(), "the only replica holds the monitor lock");
    assert_eq!(app.app.pruner().prune_once().await.unwrap(), 0);

    let text = app.scrape().await;

    const EVENT: &str = "GET /v3/grants/{grant_id}/events/{event_id}";
    let samples = [
        (
            "notifications_received_total",
            "trigger=event.created,result=accepted",
            4,
        ),
        (
            "notifications_received_total",
            "trigger=event.created,result=duplicate",
            1,
        ),
        (
            "notifications_received_total",
            "trigger=event.updated,result=accepted",
            2,
        ),
        (
            "notifications_received_total",
            "trigger=event.deleted,result=accepted",
            1,
        ),
        (
            "notifications_received_total",
            "trigger=other,result=ignored",
            1,
        ),
        (
            "notifications_received_total",
            "trigger=unknown,result=bad_signature",
            1,
        ),
        (
            "notifications_received_total",
            "trigger=unknown,result=bad_request",
            1,
        ),
        ("ingest_seconds_count", "", 8),
        ("jobs", "state=pending", 0),
        ("jobs", "state=in_flight", 0),
        ("jobs", "state=retrying", 3),
        ("jobs", "state=dead", 0),
        (
            "crm_requests_total",
            "kind=rest,operation=rest create,status=201",
            1,
        ),
        (
            "crm_requests_total",
            "kind=rest,operation=rest create,status=503",
            1,
        ),
        (
            "crm_requests_total",
            "kind=rest,operation=rest create,status=401",
            1,
        ),
        (
            "crm_requests_total",
            "kind=rest,operation=rest update,status=200",
            1,
        ),
        (
            "crm_requests_total",
            "kind=rest,operation=rest delete,status=204",
            1,
        ),
        (
            "crm_request_seconds_count",
            "kind=rest,operation=rest create",
            3,
        ),
        (
            "nylas_requests_total",
            &format!("operation={EVENT},status=500"),
            1,
        ),
        (
            "nylas_requests_total",
            "operation=GET /v3/webhooks,status=200",
            1,
        ),
        ("records_total", "outcome=created", 1),
        ("records_total", "outcome=updated", 1),
        ("records_total", "outcome=unchanged", 1),
        ("records_total", "outcome=deleted", 1),
        ("job_failures_total", "class=retryable", 2),
        ("job_failures_total", "class=auth", 1),
        ("auth_failures_total", "target=crm:rest", 1),
        ("webhooks", "status=failing", 1),
        ("notifications_pruned_total", "", 0),
    ];
    for (name, labels, expected) in samples {
        let sample = sample_name(name, labels);
        assert_eq!(
            value_of(&text, &sample),
            Some(f64::from(expected)),
            "{sample} in:\n{text}"
        );
    }
    let age = value_of(&text, "calsync_oldest_pending_job_age_seconds").unwrap();
    assert!(age > 0.0, "three jobs wait: {age}");
    assert!(
        text.contains("calsync_crm_request_seconds_bucket{"),
        "{text}"
    );

    let documented = documented();
    for (name, kind) in exported(&text) {
        assert_eq!(
            documented.get(&name),
            Some(&kind),
            "{name} ({kind}) is exported but not documented so in the README's Metrics table"
        );
    }
    let mut registered = registered();
    registered.sort();
    let mut names: Vec<String> = documented
        .iter()
        .map(|(name, kind)| match kind.as_str() {
            "counter" => name.trim_end_matches("_total").to_string(),
            _ => name.clone(),
        })
        .collect();
    names.sort();
    assert_eq!(
        names, registered,
        "the README's Metrics table must list exactly the registered metrics"
    );
}

/// The families whose labels name a request (an endpoint or operation and its HTTP status): they
/// appear with the first request (README, Metrics).
const PER_REQUEST: [&str; 4] = [
    "calsync_crm_requests_total",
    "calsync_crm_request_seconds",
    "calsync_nylas_requests_total",
    "calsync_crm_quota",
];

#[tokio::test]
async fn a_fresh_app_exports_every_family_from_the_start() {
    let app = TestApp::spawn().await;
    let text = app.scrape().await;
    let exported = exported(&text);
    for (name, kind) in documented() {
        if PER_REQUEST.contains(&name.as_str()) {
            continue;
        }
        assert_eq!(
            exported.get(&name),
            Some(&kind),
            "{name} missing in:\n{text}"
        );
    }
    for alert in [
        r#"calsync_webhooks{status="failing"} 0"#,
        r#"calsync_webhooks{status="failed"} 0"#,
        r#"calsync_jobs{state="dead"} 0"#,
        r#"calsync_oldest_pending_job_age_seconds 0"#,
        r#"calsync_auth_failures_total{target="crm:rest"} 0"#,
        r#"calsync_notifications_received_total{trigger="unknown",result="bad_signature"} 0"#,
        r#"calsync_reconcile_last_success_timestamp_seconds 0"#,
        "calsync_store_gauges_exporter 1",
    ] {
        assert!(text.contains(alert), "missing {alert:?} in:\n{text}");
    }
    let build = format!(
        "calsync_build_info{{version=\"{}\",git_sha=\"{}\"}} 1",
        calsync::version::VERSION,
        calsync::version::GIT_SHA
    );
    assert!(text.contains(&build), "{text}");
}

#[tokio::test]
async fn pruning_drops_notifications_older_than_keep_and_nothing_else() {
    let app = TestApp::builder()
        .env("CALSYNC__STORE__KEEP_NOTIFICATIONS", "2d")
        .spawn()
        .await;
    let old = envelope(
        "n-old",
        "event.created",
        event("evt-1", GRANT, CALENDAR, "A", 1),
    );
    let recent = envelope(
        "n-new",
        "event.created",
        event("evt-2", GRANT, CALENDAR, "B", 1),
    );
    log_notification(app.store.as_ref(), &old, hours_ago(49)).await;
    log_notification(app.store.as_ref(), &recent, hours_ago(47)).await;
    let pending_before = app.store.job_stats(hours_ago(0)).await.unwrap().pending;

    assert_eq!(app.app.pruner().prune_once().await.unwrap(), 1);
    assert_eq!(
        app.app.pruner().prune_once().await.unwrap(),
        0,
        "idempotent"
    );

    let kept = app
        .store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    let ids: Vec<&str> = kept.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["n-new"]);
    let pending_after = app.store.job_stats(hours_ago(0)).await.unwrap().pending;
    assert_eq!(pending_before, 2);
    assert_eq!(pending_after, 2, "jobs are never pruned");
    let metrics = app.parts.metrics.render();
    assert!(
        metrics.contains("calsync_notifications_pruned_total 1"),
        "{metrics}"
    );
}
