//! The real `calsync backfill` binary: beside a real `calsync serve` on the same store, its
//! summary and exit codes.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::json;

use super::world::*;
use crate::support::binary::Daemon;
use crate::support::fake_crm::{CRM_KEY, FakeCrm};
use crate::support::fake_nylas::{FakeNylas, NYLAS_KEY};
use crate::support::payloads::event_at;

async fn run_backfill(dir: &Path, nylas: &FakeNylas, crm: &FakeCrm, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_calsync"))
        .arg("backfill")
        .args(args)
        .env_clear()
        .env(
            "CALSYNC__STORE__URL",
            format!("sqlite://{}", dir.join("calsync.db").display()),
        )
        .env("NYLAS_API_KEY", NYLAS_KEY)
        .env("NYLAS_API_URI", nylas.api_uri())
        .env("CALSYNC__CRM__BASE_URL", crm.base_url())
        .env("CRM_API_KEY", CRM_KEY)
        .env("CALSYNC__SYNC__EXCLUDE_READ_ONLY_CALENDARS", "true")
        .env("CALSYNC__SYNC__RETRY_INITIAL", "20ms")
        .env("CALSYNC__SYNC__RETRY_MAX", "200ms")
        .output()
        .await
        .expect("run calsync backfill")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_command_runs_beside_serve_prints_its_summary_and_exits_by_outcome() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let expected = populate(&nylas);
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(dir.path(), &nylas, &crm, &[]).await;
    let end = (T0 + 30 * DAY).to_string();
    let args = [
        "--start",
        "2026-06-21T00:00:00Z",
        "--end",
        &end,
        "--concurrency",
        "2",
    ];

    let output = run_backfill(dir.path(), &nylas, &crm, &args).await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("Backfill finished."), "{stdout}");
    assert!(
        stdout.contains(&format!("events seen:     {}", expected.len())),
        "{stdout}"
    );
    assert!(stdout.contains("1 skipped (not valid: 1"), "{stdout}");
    // Not on a terminal: progress is structured log lines, on stderr (stdout is the report).
    assert!(
        text(&output.stderr).contains("\"message\":\"Backfill: page done.\""),
        "log lines when not on a terminal"
    );
    assert!(
        !stdout.contains("\"message\""),
        "no log line in the report: {stdout}"
    );
    let all_synced = daemon
        .wait_for(Duration::from_secs(30), || synced(&crm) == expected)
        .await;
    assert!(all_synced, "jobs handed to serve are synced by it");
    assert_eq!(daemon.terminate().await, Some(0));

    // A write that fails for good: a dead letter and exit code 1.
    let mut changed = event_at("rep-0", ALPHA, REP, T0 + 2 * DAY, 300);
    changed["title"] = json!("Moved");
    nylas.put_event(changed);
    crm.poison("rep-0", 422);
    let output = run_backfill(dir.path(), &nylas, &crm, &args).await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Backfill finished with failures."),
        "{stdout}"
    );
    assert!(stdout.contains("failed:          1"), "{stdout}");
    assert_eq!(synced(&crm), expected, "still one record per event");
}

#[tokio::test]
async fn bad_arguments_exit_2_with_a_message() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let dir = tempfile::tempdir().unwrap();
    for (args, message) in [
        (
            &["--start", "1717200000", "--end", "1717100000"][..],
            "must be before --end",
        ),
        (
            &["--days", "3", "--start", "1", "--end", "2"][..],
            "cannot be used with",
        ),
        (
            &["--start", "last week", "--end", "2"][..],
            "neither Unix seconds nor an RFC 3339",
        ),
        (&["--concurrency", "0"][..], "--concurrency"),
    ] {
        let output = run_backfill(dir.path(), &nylas, &crm, args).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert!(nylas.requests().is_empty());
}
