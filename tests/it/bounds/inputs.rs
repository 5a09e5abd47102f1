//! Bounded inputs through the real binary: ids over 1,024 bytes are refused naming the field;
//! `dlq list` survives a 65,536-character id and prints no terminal escape sequence; a newline
//! inside an id cannot forge a text log line; any signed `type` lands in a bounded `trigger`
//! label; a flood of unauthenticated requests logs a few lines a second, counting the rest.

use std::time::{Duration, Instant};

use calsync::http::verify::sign;
use calsync::store::{JobAction, JobRequest, JobSource, PayloadOrigin};
use calsync::telemetry::metrics::{KNOWN_TRIGGERS, OTHER_TRIGGER, UNKNOWN_TRIGGER};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::store_conformance::at;
use crate::support::binary::{Daemon, run_command};
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::payloads::{envelope, event};

const GRANT: &str = "grant-1";

async fn start(dir: &std::path::Path, extra: &[(&str, &str)]) -> (Daemon, FakeNylas, FakeCrm) {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let daemon = Daemon::start(dir, &nylas, &crm, extra).await;
    (daemon, nylas, crm)
}

/// POSTs `envelope` signed; the status and the answer's text.
async fn post(daemon: &Daemon, envelope: &Value) -> (StatusCode, String) {
    let body = serde_json::to_vec(envelope).unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/nylas", daemon.base))
        .header(
            "x-nylas-signature",
            sign(crate::support::harness::SECRET, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_over_the_limit_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (mut daemon, ..) = start(dir.path(), &[]).await;
    let long = "x".repeat(1_025);
    let mut cases = Vec::new();
    let mut object = event("evt-1", GRANT, "primary", "Call", 100);
    object["grant_id"] = json!(long);
    cases.push((
        envelope("n-1", "event.created", object),
        "data.object.grant_id",
    ));
    cases.push((
        envelope(
            "n-2",
            "event.updated",
            event(&long, GRANT, "primary", "Call", 100),
        ),
        "data.object.id",
    ));
    cases.push((
        envelope(
            "n-3",
            "event.created",
            event("evt-3", GRANT, &long, "Call", 100),
        ),
        "data.object.calendar_id",
    ));
    cases.push((
        envelope(
            &long,
            "event.created",
            event("evt-4", GRANT, "primary", "Call", 100),
        ),
        "id",
    ));
    for (notification, field) in &cases {
        let (status, text) = post(&daemon, notification).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {text}");
        assert!(
            text.starts_with(&format!(
                "{field} is 1025 bytes long; the limit is 1024 bytes"
            )),
            "{text}"
        );
    }
    // At the limit is fine.
    let at_limit = "y".repeat(1_024);
    let fine = envelope(
        "n-5",
        "event.created",
        event(&at_limit, GRANT, "primary", "Call", 100),
    );
    assert_eq!(post(&daemon, &fine).await.0, StatusCode::OK);

    let metrics = daemon.metrics().await;
    let refused = r#"calsync_notifications_received_total{trigger="unknown",result="bad_request"}"#;
    assert_eq!(metric(&metrics, refused), Some(4.0), "{metrics}");
    let accepted =
        r#"calsync_notifications_received_total{trigger="event.created",result="accepted"}"#;
    assert_eq!(metric(&metrics, accepted), Some(1.0), "{metrics}");
    let log = daemon.log_lines().join("\n");
    assert!(!log.contains(&long), "an over-long id reached the log");
    assert_eq!(daemon.terminate().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_list_survives_huge_and_hostile_ids() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("calsync.db").display());
    let hostile_key = format!("\u{1b}[2J\u{1b}[31m{}", "e".repeat(65_536));
    {
        // Ids the edge now refuses can still come from the Events API (backfill) or an older
        // version: the table must cope.
        let store = calsync::store::open(&url).await.unwrap();
        let job = JobRequest {
            record_key: hostile_key.as_str().into(),
            grant_id: "grant\nFORGED".into(),
            calendar_id: Some("primary".into()),
            action: JobAction::Upsert,
            payload: None,
            origin: PayloadOrigin::None,
            version: None,
            force_fetch: false,
            source: JobSource::Backfill,
            notification_id: None,
        };
        store.enqueue(&[job], at(0)).await.unwrap();
        let claimed = store
            .claim_key(
                &hostile_key.as_str().into(),
                "w",
                at(0),
                Duration::from_secs(60),
            )
            .await
            .unwrap()
            .unwrap();
        let error = "CRM answered 400: \u{1b}]0;owned\u{7}";
        store
            .dead_letter(&claimed.lease, error, at(1))
            .await
            .unwrap();
    }
    let output = run_command(dir.path(), &nylas, &crm, &[], &["dlq", "list"]).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.lines().count(), 2, "{stdout:?}");
    assert!(
        stdout.chars().filter(|c| c.is_control()).all(|c| c == '\n'),
        "{stdout:?}"
    );
    let row = stdout.lines().nth(1).unwrap();
    assert!(row.contains("\\u{1b}[2J\\u{1b}[31meee"), "{row}");
    assert!(row.contains("grant\\nFORGED"), "{row}");
    assert!(row.contains("\\u{1b}]0;owned\\u{7}"), "{row}");
    assert!(row.chars().count() < 500, "{}", row.chars().count());

    let json = run_command(dir.path(), &nylas, &crm, &[], &["dlq", "list", "--json"]).await;
    assert!(json.status.success());
    let letters: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        letters[0]["event_id"],
        hostile_key.as_str(),
        "--json keeps everything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newline_inside_an_id_cannot_forge_a_text_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = [("CALSYNC__LOG__FORMAT", "text")];
    let (mut daemon, ..) = start(dir.path(), &text).await;
    let forged = "evt-1\n2026-01-01T00:00:00.000000Z ERROR calsync::app: forged \u{1b}[2J";
    let notification = envelope(
        "n-1\rFORGED",
        "event.created",
        event(forged, GRANT, "primary", "Call", 100),
    );
    assert_eq!(post(&daemon, &notification).await.0, StatusCode::OK);
    assert_eq!(daemon.terminate().await, Some(0));
    let raw = std::fs::read_to_string(&daemon.log).unwrap();
    assert!(!raw.contains('\u{1b}') && !raw.contains('\r'), "{raw:?}");
    for line in raw.lines() {
        assert!(
            !line.starts_with("2026-01-01T00:00:00.000000Z"),
            "forged: {line}"
        );
    }
    let received = raw
        .lines()
        .find(|line| line.contains("Received a notification."))
        .expect("the notification was logged");
    assert!(
        received
            .contains("evt-1\\n2026-01-01T00:00:00.000000Z ERROR calsync::app: forged \\u{1b}[2J"),
        "{received}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_signed_type_lands_in_a_bounded_trigger_label() {
    let dir = tempfile::tempdir().unwrap();
    let (mut daemon, ..) = start(dir.path(), &[]).await;
    for index in 0..30 {
        let trigger = format!("random{index}.type{index}.x");
        let notification = envelope(&format!("n-{index}"), &trigger, json!({"id": "o"}));
        assert_eq!(post(&daemon, &notification).await.0, StatusCode::OK);
    }
    let metrics = daemon.metrics().await;
    let triggers: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter_map(|line| line.split("trigger=\"").nth(1)?.split('"').next())
        .collect();
    let bounded =
        |t: &&str| KNOWN_TRIGGERS.contains(t) || [OTHER_TRIGGER, UNKNOWN_TRIGGER].contains(t);
    assert!(triggers.iter().all(bounded), "{triggers:?}");
    let ignored = r#"calsync_notifications_received_total{trigger="other",result="ignored"}"#;
    assert_eq!(metric(&metrics, ignored), Some(30.0), "{metrics}");
    assert_eq!(daemon.terminate().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_forged_requests_logs_a_few_lines_a_second_counting_the_rest() {
    const FORGED: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    let (mut daemon, ..) = start(dir.path(), &[]).await;
    let http = reqwest::Client::new();
    let body = serde_json::to_vec(&envelope("n-x", "event.created", json!({"id": "e"}))).unwrap();
    let forge = || {
        http.post(format!("{}/webhooks/nylas", daemon.base))
            .header("x-nylas-signature", sign("guessed", &body))
            .body(body.clone())
            .send()
    };
    let started = Instant::now();
    for _ in 0..FORGED {
        assert_eq!(forge().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let burst = started.elapsed();
    // One more after the window: it is logged, with the count of the suppressed ones.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(forge().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(daemon.terminate().await, Some(0));

    let lines: Vec<Value> = daemon
        .log_lines()
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|line: &Value| line["http.status"] == 401)
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["message"] == "Rejected a notification."),
        "{lines:?}"
    );
    let windows = burst.as_secs() as usize + 2;
    assert!(
        lines.len() <= 5 * windows + 1,
        "{} lines for {FORGED} rejections in {burst:?}",
        lines.len()
    );
    assert!(lines.len() < FORGED, "{} lines", lines.len());
    let accounted: u64 = lines
        .iter()
        .map(|line| 1 + line["suppressed"].as_u64().expect("suppressed count"))
        .sum();
    assert_eq!(
        accounted,
        FORGED as u64 + 1,
        "every rejection is logged or counted"
    );
}
