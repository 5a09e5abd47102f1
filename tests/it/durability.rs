//! Invariant 1 against the real binary: a 200 means durable. Notifications acknowledged while
//! the CRM is down survive a SIGKILL; after a restart each reaches the CRM exactly once.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::binary::Daemon;
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::payloads::{envelope, event};

const EVENTS: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_notifications_survive_sigkill_and_reach_the_crm_once() {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    crm.go_down(503);
    let dir = tempfile::tempdir().unwrap();
    for index in 0..EVENTS {
        nylas.put_event(event(
            &format!("evt-{index}"),
            "grant-1",
            "primary",
            "Call",
            100,
        ));
    }

    let mut first = Daemon::start(dir.path(), &nylas, &crm, &[]).await;
    for index in 0..EVENTS {
        let object = event(&format!("evt-{index}"), "grant-1", "primary", "Call", 100);
        let status = first
            .notify(&envelope(&format!("n-{index}"), "event.created", object))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    first.kill();

    crm.recover();
    let mut second = Daemon::start(dir.path(), &nylas, &crm, &[]).await;
    let all_synced = second
        .wait_for(Duration::from_secs(60), || {
            crm.live_records().len() >= EVENTS
        })
        .await;
    assert!(
        all_synced,
        "only {} of {EVENTS} records",
        crm.live_records().len()
    );
    for index in 0..EVENTS {
        let records = crm.records_for(&format!("evt-{index}"));
        assert_eq!(
            records.len(),
            1,
            "evt-{index} has {} records",
            records.len()
        );
    }
    assert_eq!(second.terminate().await, Some(0));
}
