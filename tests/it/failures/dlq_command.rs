//! `calsync dlq list|retry` as an operator runs it: a second process on the store of a running
//! `calsync serve`.

use std::time::Duration;

use calsync::store::DeadLetter;
use reqwest::StatusCode;

use crate::support::binary::{Daemon, run_command};
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::payloads::{envelope, event};

/// The dead letters as the test sees them (its own connection to the daemon's store).
async fn dead_letters(dir: &std::path::Path) -> Vec<DeadLetter> {
    let url = format!("sqlite://{}", dir.join("calsync.db").display());
    let store = calsync::store::open(&url).await.unwrap();
    store.list_dead_letters(100).await.unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_lists_and_requeues_dead_letters_while_serve_runs() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let dir = tempfile::tempdir().unwrap();
    crm.poison("evt-bad", 422);
    let mut daemon = Daemon::start(dir.path(), &nylas, &crm, &[]).await;
    for id in ["evt-good", "evt-bad"] {
        let object = event(id, "grant-1", "primary", "Call", 100);
        nylas.put_event(object.clone());
        let status = daemon
            .notify(&envelope(&format!("n-{id}"), "event.created", object))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let mut letters = Vec::new();
    for _ in 0..600 {
        letters = dead_letters(dir.path()).await;
        if !letters.is_empty() && !crm.records_for("evt-good").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(letters.len(), 1, "evt-bad is a dead letter");
    let id = letters[0].id.to_string();

    let listed = run_command(dir.path(), &nylas, &crm, &[], &["dlq", "list"]).await;
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let table = text(&listed.stdout);
    let header = table
        .lines()
        .find(|line| line.starts_with("ID "))
        .unwrap_or_else(|| panic!("no table header in {table}"));
    assert!(
        header.contains("EVENT") && header.contains("LAST ERROR"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|line| line.starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no row for {id} in {table}"));
    for expected in ["evt-bad", "grant-1", "422"] {
        assert!(row.contains(expected), "{expected} missing from {row}");
    }

    let listed = run_command(dir.path(), &nylas, &crm, &[], &["dlq", "list", "--json"]).await;
    let json = text(&listed.stdout);
    let line = json.lines().find(|line| line.starts_with('[')).unwrap();
    let items: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(items[0]["event_id"], "evt-bad");
    assert_eq!(items[0]["attempts"], 1);

    // Fixed on the CRM side: requeue it; the running daemon picks it up by polling.
    crm.cure("evt-bad");
    let retried = run_command(dir.path(), &nylas, &crm, &[], &["dlq", "retry", &id]).await;
    assert!(retried.status.success(), "{}", text(&retried.stderr));
    assert!(text(&retried.stdout).contains("Requeued 1 dead letter."));
    let synced = daemon
        .wait_for(Duration::from_secs(30), || {
            !crm.records_for("evt-bad").is_empty()
        })
        .await;
    assert!(synced, "the requeued job ran");
    assert_eq!(crm.records_for("evt-bad").len(), 1);
    assert!(dead_letters(dir.path()).await.is_empty());

    let unknown = run_command(dir.path(), &nylas, &crm, &[], &["dlq", "retry", "99999"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stdout).contains("Requeued 0 dead letters."));
    assert!(
        text(&unknown.stderr).contains("99999"),
        "{}",
        text(&unknown.stderr)
    );
    let all = run_command(dir.path(), &nylas, &crm, &[], &["dlq", "retry", "--all"]).await;
    assert!(all.status.success());
    assert!(text(&all.stdout).contains("Requeued 0 dead letters."));
    let usage = run_command(dir.path(), &nylas, &crm, &[], &["dlq", "retry"]).await;
    assert_eq!(usage.status.code(), Some(2), "an id or --all is required");

    assert_eq!(daemon.terminate().await, Some(0));
}
