//! A streamed 1 GiB answer (generated on the fly by [`Hostile`], never allocated) to the real
//! `calsync serve`: a CRM success, a CRM error and a Nylas event answer. Each ends as a dead
//! letter whose error names what happened, and the daemon's peak resident memory (`VmHWM` in
//! `/proc/<pid>/status`) stays under 100 MB.

use std::time::Duration;

use calsync::store::{self, DeadLetter};

use crate::support::binary::Daemon;
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::hostile::{Hostile, Hostility};
use crate::support::payloads::{envelope, event};

const GIB: u64 = 1024 * 1024 * 1024;

/// The most the daemon may ever hold resident.
const RSS_LIMIT_KIB: u64 = 100 * 1024;

/// A resident-memory figure of `/proc/<pid>/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Starts the daemon (one attempt per job, so a failure is dead-lettered at once) with `extra`
/// pointing one upstream at the flood, notifies one event and waits for its dead letter.
async fn dead_letter_under_flood(
    nylas: &FakeNylas,
    crm: &FakeCrm,
    extra: &[(&str, &str)],
) -> (DeadLetter, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![("CALSYNC__SYNC__MAX_ATTEMPTS", "1")];
    env.extend_from_slice(extra);
    let mut daemon = Daemon::start(dir.path(), nylas, crm, &env).await;
    let current = event("evt-1", "grant-1", "primary", "Flooded", 100);
    nylas.put_event(current.clone());
    let status = daemon
        .notify(&envelope("n1", "event.created", current))
        .await;
    assert_eq!(status, 200);

    let url = format!("sqlite://{}", dir.path().join("calsync.db").display());
    let store = store::open(&url).await.expect("store opens");
    let found = daemon
        .wait_for_async(Duration::from_secs(60), || {
            let store = store.clone();
            async move { !store.list_dead_letters(10).await.unwrap().is_empty() }
        })
        .await;
    assert!(found, "the job was not dead-lettered");
    let peak = status_kib(daemon.pid(), "VmHWM:");
    eprintln!("calsync peak RSS under a 1 GiB answer: {peak} KiB");
    let dead = store.list_dead_letters(10).await.unwrap().remove(0);
    (dead, peak)
}

/// Points `upstream` (`CALSYNC__CRM__BASE_URL` or `NYLAS_API_URI`) at a server answering every
/// request `status` with a streamed 1 GiB body; the dead letter's error, once the daemon's peak
/// memory and the flood's output are checked.
async fn flooded(upstream: &str, status: u16, announced: bool) -> String {
    let (nylas, crm) = (FakeNylas::start().await, FakeCrm::start().await);
    let flood = Hostile::start(Hostility::Flood {
        status,
        bytes: GIB,
        announced,
    })
    .await;
    let base = flood.base_url();
    let (dead, peak) = dead_letter_under_flood(&nylas, &crm, &[(upstream, base.as_str())]).await;
    assert!(
        peak < RSS_LIMIT_KIB,
        "peak RSS {peak} KiB (limit {RSS_LIMIT_KIB} KiB)"
    );
    // The reader stopped early: nowhere near the whole answer was even generated.
    assert!(
        flood.produced() < 64 * 1024 * 1024,
        "{} bytes generated",
        flood.produced()
    );
    dead.last_error
}

#[tokio::test]
async fn a_1_gib_crm_success_is_refused_with_flat_memory() {
    let error = flooded("CALSYNC__CRM__BASE_URL", 201, false).await;
    let expected = "rest create answered with a body over calsync's limit of 8388608 bytes";
    assert!(error.contains(expected), "{error}");
}

#[tokio::test]
async fn a_1_gib_crm_error_keeps_only_an_excerpt_with_flat_memory() {
    let error = flooded("CALSYNC__CRM__BASE_URL", 503, true).await;
    assert!(
        error.contains("rest create answered HTTP 503: xxxx"),
        "{error}"
    );
    assert!(error.len() < 1024, "{}", error.len());
}

#[tokio::test]
async fn a_1_gib_nylas_event_is_refused_with_flat_memory() {
    let error = flooded("NYLAS_API_URI", 200, false).await;
    let expected = "GET /v3/grants/{grant_id}/events/{event_id} answered with a body over calsync's limit of 8388608 bytes";
    assert!(error.contains(expected), "{error}");
}
