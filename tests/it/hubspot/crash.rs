//! A crash mid-batch against the real binary: `calsync serve` is killed (SIGKILL) while HubSpot
//! has carried out its batch upserts but not answered them, so no job has settled. After a
//! restart every job runs again, and the upsert by the event id property finds the meetings the
//! lost batches wrote: every event ends with exactly one meeting, nothing lost, nothing doubled.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::binary::Daemon;
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_hubspot::{FakeHubSpot, HUBSPOT_TOKEN};
use crate::support::fake_nylas::FakeNylas;
use crate::support::fake_vendor::Recorded;
use crate::support::payloads::{envelope, event};

const EVENTS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_while_batches_are_in_flight_loses_and_duplicates_nothing() {
    let nylas = FakeNylas::start().await;
    let hubspot = FakeHubSpot::start().await;
    // The daemon's environment names a REST CRM; the variables below point it at HubSpot.
    let unused_rest = FakeCrm::start().await;
    let base_url = hubspot.base_url();
    let env = [
        ("CALSYNC__CRM__KIND", "hubspot"),
        ("CALSYNC__CRM__BASE_URL", base_url.as_str()),
        ("CRM_API_KEY", HUBSPOT_TOKEN),
        ("CALSYNC__CRM__LINK_CONTACTS", "false"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let current = |index: usize| event(&format!("evt-{index}"), "grant-1", "primary", "Call", 100);
    for index in 0..EVENTS {
        nylas.put_event(current(index));
    }

    hubspot.stall_batch_answers(true);
    let mut first = Daemon::start(dir.path(), &nylas, &unused_rest, &env).await;
    for index in 0..EVENTS {
        let notification = envelope(&format!("n-{index}"), "event.created", current(index));
        assert_eq!(first.notify(&notification).await, StatusCode::OK);
    }
    let all_written = first
        .wait_for(Duration::from_secs(60), || {
            hubspot.live_meetings().len() >= EVENTS
        })
        .await;
    assert!(all_written, "{} meetings", hubspot.live_meetings().len());
    first.kill();

    hubspot.stall_batch_answers(false);
    let mut second = Daemon::start(dir.path(), &nylas, &unused_rest, &env).await;
    let settled = format!("calsync_records_total{{outcome=\"updated\"}} {EVENTS}");
    let metrics_url = format!("{}/metrics", second.base);
    let all_settled = second
        .wait_for_async(Duration::from_secs(60), || async {
            let answer = reqwest::get(&metrics_url).await;
            let text = match answer {
                Ok(answer) => answer.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            text.contains(&settled)
        })
        .await;
    assert!(all_settled, "the jobs did not run again after the restart");
    for index in 0..EVENTS {
        let meetings = hubspot.meetings_for(&format!("evt-{index}"));
        assert_eq!(meetings.len(), 1, "evt-{index}: {meetings:?}");
    }
    hubspot.assert_contract();
}
