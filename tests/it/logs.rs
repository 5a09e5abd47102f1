//! Item 9 (and the serve side of items 10 and 11) through the real binary: a realistic session —
//! notifications accepted and rejected, jobs that sync, a CRM failure, a Nylas error, a failing
//! webhook, a pruned notification, a webhook created and its secret rotated — leaves log lines
//! that are all JSON objects with the fixed field names, and none of them holds the Nylas API
//! key, the CRM key or any webhook secret.

use std::time::Duration;

use calsync::http::verify::sign;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::operations::{hours_ago, log_notification};
use crate::support::binary::{Daemon, run_command};
use crate::support::fake_crm::{CRM_KEY, FakeCrm, Scripted};
use crate::support::fake_nylas::{FakeNylas, NYLAS_KEY};
use crate::support::harness::SECRET;
use crate::support::payloads::{envelope, event};

const GRANT: &str = "grant-1";
const CALENDAR: &str = "primary";
const SECOND_SECRET: &str = "whsec_second_7c6b5a4d3e";

/// The parsed lines whose message is `message`.
fn with_message<'a>(lines: &'a [Value], message: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|line| line["message"] == message)
        .collect()
}

/// Asserts every line with `message` exists and carries `fields`.
fn assert_fields(lines: &[Value], message: &str, fields: &[&str]) {
    let found = with_message(lines, message);
    assert!(!found.is_empty(), "no line {message:?}");
    for line in found {
        for field in fields {
            assert!(
                line.get(*field).is_some(),
                "{message:?} lacks {field}: {line}"
            );
        }
    }
}

/// A command's stdout, asserting it succeeded.
async fn command(dir: &std::path::Path, nylas: &FakeNylas, crm: &FakeCrm, args: &[&str]) -> String {
    let output = run_command(dir, nylas, crm, &[], args).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}: {stdout}\n{stderr}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realistic_session_logs_json_with_fixed_fields_and_no_secret() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let dir = tempfile::tempdir().unwrap();
    {
        let url = format!("sqlite://{}", dir.path().join("calsync.db").display());
        let store = calsync::store::open(&url).await.unwrap();
        let grant = json!({"grant_id": "grant-old", "provider": "google"});
        let old = envelope("n-old", "grant.updated", grant);
        log_notification(store.as_ref(), &old, hours_ago(24 * 30)).await;
    }
    let failing_events = ["event.created", "event.updated", "event.deleted"];
    nylas.add_subscription(
        "wh-failing",
        "https://old.example.com/hook",
        "failing",
        &failing_events,
    );
    let both = format!("{SECRET},{SECOND_SECRET}");
    let secrets = ("CALSYNC__NYLAS__WEBHOOK_SECRETS", both.as_str());
    let mut daemon = Daemon::start(dir.path(), &nylas, &crm, &[secrets]).await;
    let monitor_ran = daemon
        .wait_for(Duration::from_secs(30), || {
            let log = std::fs::read_to_string(dir.path().join("calsync.log")).unwrap();
            log.contains("The Nylas webhook is failing") && log.contains("Pruned notifications")
        })
        .await;
    assert!(monitor_ran, "{}", daemon.log_lines().join("\n"));

    // Accepted and synced; then a duplicate and a forged copy.
    let first = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    nylas.put_event(first.clone());
    let notification = envelope("n-1", "event.created", first);
    assert_eq!(daemon.notify(&notification).await, StatusCode::OK);
    assert_eq!(daemon.notify(&notification).await, StatusCode::OK);
    let body = serde_json::to_vec(&notification).unwrap();
    let http = reqwest::Client::new();
    let forged = http
        .post(format!("{}/webhooks/nylas", daemon.base))
        .header("x-nylas-signature", sign("guessed-secret", &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert!(
        daemon
            .wait_for(Duration::from_secs(30), || crm.live_records().len() == 1)
            .await
    );

    // A CRM failure, then a Nylas failure, each retried to success.
    crm.script([Scripted {
        status: 500,
        retry_after: None,
    }]);
    let second = event("evt-2", GRANT, CALENDAR, "Review", 100);
    nylas.put_event(second.clone());
    assert_eq!(
        daemon
            .notify(&envelope("n-2", "event.created", second))
            .await,
        StatusCode::OK
    );
    assert!(
        daemon
            .wait_for(Duration::from_secs(30), || crm.live_records().len() == 2)
            .await
    );
    nylas.script([Scripted {
        status: 500,
        retry_after: None,
    }]);
    let third = event("evt-3", GRANT, CALENDAR, "Lunch", 100);
    nylas.put_event(third.clone());
    let body = serde_json::to_vec(&envelope("n-3", "event.created", third)).unwrap();
    let signed_with_second = http
        .post(format!("{}/webhooks/nylas", daemon.base))
        .header("x-nylas-signature", sign(SECOND_SECRET, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_with_second.status(), StatusCode::OK);
    assert!(
        daemon
            .wait_for(Duration::from_secs(30), || crm.live_records().len() == 3)
            .await
    );

    // A webhook created for this daemon (Nylas challenges it), then its secret rotated.
    let url = format!("{}/webhooks/nylas", daemon.base);
    let created = command(
        dir.path(),
        &nylas,
        &crm,
        &["webhook", "create", "--url", &url],
    )
    .await;
    let id = nylas.webhooks()[1].id.clone();
    let created_secret = nylas.webhooks()[1].secret.clone();
    let rotated = command(dir.path(), &nylas, &crm, &["webhook", "rotate-secret", &id]).await;
    let rotated_secret = nylas.webhooks()[1].secret.clone();
    assert_eq!(
        created.matches(created_secret.as_str()).count(),
        1,
        "{created}"
    );
    assert_eq!(
        rotated.matches(rotated_secret.as_str()).count(),
        1,
        "{rotated}"
    );
    let listed = command(dir.path(), &nylas, &crm, &["webhook", "list"]).await;
    assert!(
        listed.contains(&id) && listed.contains("wh-failing  failing"),
        "{listed}"
    );

    let metrics = daemon.metrics().await;
    assert!(
        metrics.contains(r#"calsync_webhooks{status="failing"} 1"#),
        "{metrics}"
    );
    assert_eq!(daemon.terminate().await, Some(0));

    let raw = daemon.log_lines();
    for secret in [
        NYLAS_KEY,
        CRM_KEY,
        SECRET,
        SECOND_SECRET,
        &created_secret,
        &rotated_secret,
    ] {
        let leaks: Vec<&String> = raw.iter().filter(|line| line.contains(secret)).collect();
        assert!(leaks.is_empty(), "a secret reached the logs: {leaks:?}");
    }
    let lines: Vec<Value> = raw
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(line.get(field).is_some(), "{field} missing: {line}");
        }
    }
    assert_fields(
        &lines,
        "Received a notification.",
        &[
            "notification.id",
            "event.id",
            "grant.id",
            "http.method",
            "http.path",
        ],
    );
    assert_fields(
        &lines,
        "Synced the event.",
        &["event.id", "grant.id", "job.attempt", "crm.kind"],
    );
    assert_fields(
        &lines,
        "The job failed and will be retried.",
        &[
            "event.id",
            "grant.id",
            "job.attempt",
            "error",
            "retry.after_ms",
        ],
    );
    assert_fields(
        &lines,
        "Rejected a notification.",
        &[
            "http.method",
            "http.path",
            "http.status",
            "error",
            "suppressed",
        ],
    );
    assert_fields(
        &lines,
        "Answered the Nylas webhook challenge.",
        &["http.method", "http.path"],
    );
    // The forged POST is logged once, by the handler (issue 14 item 4: not twice).
    let rejected: Vec<&Value> = lines
        .iter()
        .filter(|line| line["http.status"] == 401)
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["message"], "Rejected a notification.");
    assert_eq!(rejected[0]["http.path"], "/webhooks/nylas");
    let failures: Vec<&Value> = with_message(&lines, "The job failed and will be retried.");
    let errors: Vec<&str> = failures
        .iter()
        .filter_map(|line| line["error"].as_str())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("CRM") && e.contains("500")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Nylas") && e.contains("500")),
        "{errors:?}"
    );
    let monitor = lines
        .iter()
        .find(|line| line["webhook.id"] == "wh-failing")
        .expect("the failing webhook was logged");
    assert_eq!(monitor["level"], "ERROR");
    assert_eq!(monitor["webhook.status"], "failing");
    let pruned = lines
        .iter()
        .find(|line| line.get("pruned").is_some())
        .expect("pruning was logged");
    assert_eq!(pruned["pruned"], 1);
}
