//! Store files deleted or replaced under a running daemon: calsync notices, refuses
//! notifications with 503 and fails `/readyz` rather than acknowledging into a file that is
//! gone, says so in its log, and keeps a copy of what it held so nothing acknowledged is lost.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;

use super::store_trouble::{notification, refuses};
use crate::support::binary::Daemon;
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::payloads::event;

/// How long detection and recovery may take before a test fails.
const LIMIT: Duration = Duration::from_secs(20);
/// Notifications acknowledged before the file goes.
const ACKNOWLEDGED: usize = 5;

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// The lines of the daemon's log (`log`) at `level` that contain `text`.
fn logged(log: &Path, level: &str, text: &str) -> Vec<String> {
    std::fs::read_to_string(log)
        .expect("read the daemon's log")
        .lines()
        .filter(|line| line.contains(&format!(r#""level":"{level}""#)) && line.contains(text))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_database_is_refused_loudly_and_nothing_acknowledged_is_lost() {
    let (nylas, crm) = (FakeNylas::start().await, FakeCrm::start().await);
    for index in 0..=ACKNOWLEDGED {
        let id = format!("evt-{index}");
        nylas.put_event(event(&id, "grant-1", "primary", "Call", 100));
    }
    crm.go_down(503);
    let dir = tempfile::tempdir().unwrap();
    let path = std::fs::canonicalize(dir.path())
        .unwrap()
        .join("calsync.db");
    let mut daemon = Daemon::start(dir.path(), &nylas, &crm, &[]).await;
    for index in 0..ACKNOWLEDGED {
        assert_eq!(daemon.notify(&notification(index)).await, StatusCode::OK);
    }

    for suffix in ["", "-wal", "-shm"] {
        std::fs::remove_file(sibling(&path, suffix)).unwrap();
    }
    let late = notification(ACKNOWLEDGED);
    refuses(&mut daemon, &late).await;
    assert!(!path.exists(), "no empty database took its place");
    let path_text = path.display().to_string();
    let log = daemon.log.clone();
    let alarm = format!("The SQLite database {path_text} was deleted while calsync had it open");
    let alarms = logged(&log, "ERROR", &alarm);
    assert_eq!(
        alarms.len(),
        1,
        "one loud error naming the path: {alarms:?}"
    );
    // Every refusal names the path too.
    let refusals = logged(&log, "ERROR", "Could not store a notification");
    assert!(!refusals.is_empty());
    assert!(
        refusals.iter().all(|line| line.contains(&path_text)),
        "{refusals:?}"
    );
    let rescued = sibling(&path, ".rescued");
    let saved = daemon
        .wait_for(LIMIT, || {
            !logged(&log, "ERROR", "Saved what calsync still held").is_empty()
        })
        .await;
    assert!(saved, "{}", daemon.log_lines().join("\n"));

    // The operator follows the log: stops calsync, puts the copy in place, starts it again.
    daemon.kill();
    std::fs::rename(&rescued, &path).unwrap();
    crm.recover();
    let mut second = Daemon::start(dir.path(), &nylas, &crm, &[]).await;
    assert_eq!(
        second.notify(&late).await,
        StatusCode::OK,
        "Nylas redelivers"
    );
    let synced = second
        .wait_for(LIMIT, || crm.live_records().len() > ACKNOWLEDGED)
        .await;
    assert!(synced, "{} records", crm.live_records().len());
    for index in 0..=ACKNOWLEDGED {
        assert_eq!(
            crm.records_for(&format!("evt-{index}")).len(),
            1,
            "evt-{index}"
        );
    }
    assert_eq!(second.terminate().await, Some(0));
}
