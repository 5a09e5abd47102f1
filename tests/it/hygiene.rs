//! Issue 11 item 7 through the real binary: a clean shutdown releases the `reconcile`,
//! `webhook-monitor` and `store-gauges` locks, so a restarted single instance reconciles,
//! checks the webhooks and exports the store-wide gauges at once; the build is identified
//! (`--version`, the start-up line, `calsync_build_info`).

use std::time::Duration;

use serde_json::Value;

use crate::support::binary::{Daemon, run_command};
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;

const LIMIT: Duration = Duration::from_secs(30);
const FULL_OK: &str = r#"calsync_reconcile_passes_total{pass="full",result="ok"}"#;
const FULL_NOT_LEADER: &str = r#"calsync_reconcile_passes_total{pass="full",result="not_leader"}"#;
const NO_WEBHOOK: &str = "No Nylas webhook delivers event notifications";

fn value(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Waits until the daemon's first full reconciliation pass is counted; its metrics then.
async fn after_first_pass(daemon: &mut Daemon) -> String {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let text = daemon.metrics().await;
        if value(&text, FULL_OK) + value(&text, FULL_NOT_LEADER) >= 1.0 {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "no pass: {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_instance_takes_the_locks_at_once() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hourly = [("CALSYNC__RECONCILE__INTERVAL", "1h")];
    let mut first = Daemon::start(dir.path(), &nylas, &crm, &hourly).await;
    let text = after_first_pass(&mut first).await;
    assert_eq!(value(&text, FULL_OK), 1.0, "{text}");
    assert!(text.contains("calsync_store_gauges_exporter 1"), "{text}");
    let log = first.log.clone();
    let checked = |count: usize| {
        let log = std::fs::read_to_string(&log).unwrap();
        log.matches(NO_WEBHOOK).count() >= count
    };
    assert!(first.wait_for(LIMIT, || checked(1)).await);
    assert_eq!(first.terminate().await, Some(0));

    let mut second = Daemon::start(dir.path(), &nylas, &crm, &hourly).await;
    let text = after_first_pass(&mut second).await;
    assert_eq!(
        value(&text, FULL_OK),
        1.0,
        "the restart reconciled at once: {text}"
    );
    assert_eq!(value(&text, FULL_NOT_LEADER), 0.0, "{text}");
    assert!(text.contains("calsync_store_gauges_exporter 1"), "{text}");
    assert!(
        text.contains(r#"calsync_jobs{state="pending"} 0"#),
        "{text}"
    );
    assert!(
        second.wait_for(LIMIT, || checked(2)).await,
        "the restart checked the webhooks at once"
    );
    assert_eq!(second.terminate().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_build_is_identified() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let version = run_command(dir.path(), &nylas, &crm, &[], &["--version"]).await;
    assert!(version.status.success());
    let expected = format!(
        "calsync {} (git {})\n",
        calsync::version::VERSION,
        calsync::version::GIT_SHA
    );
    assert_eq!(String::from_utf8(version.stdout).unwrap(), expected);
    assert!(!calsync::version::GIT_SHA.is_empty());

    let mut daemon = Daemon::start(dir.path(), &nylas, &crm, &[]).await;
    let metrics = daemon.metrics().await;
    let build = format!(
        "calsync_build_info{{version=\"{}\",git_sha=\"{}\"}} 1",
        calsync::version::VERSION,
        calsync::version::GIT_SHA
    );
    assert!(metrics.contains(&build), "{metrics}");
    assert_eq!(daemon.terminate().await, Some(0));
    let started: Value = daemon
        .log_lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["message"] == "calsync is serving.")
        .expect("the start-up line");
    assert_eq!(started["version"], calsync::version::VERSION);
    assert_eq!(started["git_sha"], calsync::version::GIT_SHA);
}
