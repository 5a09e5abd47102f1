//! Errors keep their cause, once (issue 11, item 5): a refused connection, a DNS failure and a
//! timeout are named — exactly once — in what a job records as its last error (what `dlq list`
//! shows once it is dead-lettered), in a real dead letter, in the log line, and in the real
//! binary's `calsync check` output.

use std::time::Duration;

use calsync::worker::settle::Settled;

use crate::support::binary::run_command;
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::harness::TestApp;
use crate::support::payloads::{envelope, event};

/// A loopback address nothing listens on: bound, then closed.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

/// A host that cannot resolve (RFC 6761 reserves `.invalid`).
const UNRESOLVABLE: &str = "http://calsync-nowhere.invalid";

/// How often `needle` occurs in `text`, ignoring case.
fn occurrences(text: &str, needle: &str) -> usize {
    text.to_lowercase().matches(&needle.to_lowercase()).count()
}

/// Notifies one event, runs it once, and returns the last error its job recorded.
async fn last_error_of_one_job(app: &TestApp) -> String {
    let current = event("evt-1", "grant-1", "primary", "Demo", 100);
    app.nylas.put_event(current.clone());
    app.notify(&envelope("n1", "event.created", current)).await;
    let settled = app.drain().await;
    assert!(
        matches!(settled[..], [Settled::Deferred(_)]),
        "an unreachable target defers the job: {settled:?}"
    );
    // Claim it as if a day had passed: the claim carries the error recorded for it.
    let later = app.fixture.clock.now() + jiff::SignedDuration::from_hours(24);
    let claimed = app
        .store
        .claim("test", later, Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    claimed[0]
        .last_error
        .clone()
        .expect("an error was recorded")
}

#[tokio::test]
async fn a_refused_crm_connection_is_named_once() {
    let url = refused_url();
    let app = TestApp::builder()
        .env("CALSYNC__CRM__BASE_URL", &url)
        .spawn()
        .await;
    let error = last_error_of_one_job(&app).await;
    assert_eq!(occurrences(&error, "connection refused"), 1, "{error}");
    assert!(
        error.starts_with("writing to the CRM failed: rest create failed: "),
        "{error}"
    );
}

#[tokio::test]
async fn a_dns_failure_reading_nylas_is_named_once() {
    let app = TestApp::builder()
        .env("NYLAS_API_URI", UNRESOLVABLE)
        .spawn()
        .await;
    let error = last_error_of_one_job(&app).await;
    assert_eq!(occurrences(&error, "dns error"), 1, "{error}");
    assert!(
        error.starts_with("reading the event from Nylas failed: GET /v3/grants/"),
        "{error}"
    );
}

#[tokio::test]
async fn a_timeout_is_named_once_in_a_dead_letter() {
    // A CRM that accepts connections and never answers; one attempt per job.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::builder()
        .env("CALSYNC__CRM__BASE_URL", &format!("http://{address}"))
        .env("CALSYNC__CRM__TIMEOUT", "200ms")
        .env("CALSYNC__SYNC__MAX_ATTEMPTS", "1")
        .spawn()
        .await;
    let current = event("evt-1", "grant-1", "primary", "Demo", 100);
    app.nylas.put_event(current.clone());
    app.notify(&envelope("n1", "event.created", current)).await;
    assert_eq!(app.drain().await, vec![Settled::DeadLettered]);
    let dead = app.store.list_dead_letters(10).await.unwrap();
    let error = &dead[0].last_error;
    assert_eq!(occurrences(error, "timed out"), 1, "{error}");
    assert!(
        error.starts_with("writing to the CRM failed: rest create failed: "),
        "{error}"
    );
    silent.abort();
}

#[tokio::test]
async fn check_names_a_refused_connection_and_a_dns_failure_once() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let refused = refused_url();
    let extra = [
        ("NYLAS_API_URI", UNRESOLVABLE),
        ("CALSYNC__CRM__BASE_URL", refused.as_str()),
    ];
    let output = run_command(dir.path(), &nylas, &crm, &extra, &["check"]).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with("FAIL") && line[6..].starts_with(name))
            .unwrap_or_else(|| panic!("no failing {name} line in:\n{stdout}"))
            .to_owned()
    };
    let crm_line = line("crm ");
    assert_eq!(
        occurrences(&crm_line, "connection refused"),
        1,
        "{crm_line}"
    );
    let nylas_line = line("nylas ");
    assert_eq!(occurrences(&nylas_line, "dns error"), 1, "{nylas_line}");
    assert_eq!(occurrences(&stdout, "connection refused"), 1, "{stdout}");
    assert_eq!(occurrences(&stdout, "dns error"), 1, "{stdout}");
}

#[tokio::test]
async fn a_failed_command_reports_its_root_cause_once() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = [("NYLAS_API_URI", UNRESOLVABLE)];
    let output = run_command(dir.path(), &nylas, &crm, &extra, &["webhook", "list"]).await;
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report = stderr
        .lines()
        .find(|line| line.starts_with("calsync: "))
        .unwrap_or_else(|| panic!("no report in:\n{stderr}"));
    assert!(
        report.starts_with("calsync: could not list the webhooks: GET /v3/webhooks failed: "),
        "{report}"
    );
    assert_eq!(occurrences(&stderr, "dns error"), 1, "{stderr}");
}
