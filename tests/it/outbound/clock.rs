//! "When" decisions come from calsync's clock, not the wall clock (issue 12, item 7): an HTTP-date
//! `Retry-After` is read against the [`Clock`] — here tokio's paused time, moved by the test —
//! by the CRM transport, by an adapter's error classification, and by the Nylas client.

use std::sync::Arc;
use std::time::Duration;

use calsync::clock::Clock;
use calsync::crm::transport::CrmTransport;
use calsync::crm::{self, ExistingRecord};
use calsync::nylas::NylasClient;
use calsync::retry::Retry;
use calsync::telemetry::metrics::Metrics;

use super::settings;
use crate::salesforce::rig::record;
use crate::support::harness::TimeAnchor;
use crate::support::hostile::{Hostile, Hostility};

/// An HTTP date `ahead` after the clock's now.
fn http_date(clock: &Clock, ahead: Duration) -> String {
    let at = clock.now().as_second() + ahead.as_secs() as i64;
    let at = std::time::UNIX_EPOCH + Duration::from_secs(at as u64);
    httpdate::fmt_http_date(at)
}

/// Between 59 and 60 seconds: the date has whole seconds, the clock does not.
fn about_a_minute(wait: Duration) -> bool {
    (Duration::from_secs(59)..=Duration::from_secs(60)).contains(&wait)
}

#[tokio::test(start_paused = true)]
async fn an_http_date_retry_after_is_read_against_the_clock() {
    // Time moves only when the test says so (no auto-advance while sockets are awaited).
    let _anchor = TimeAnchor::hold();
    let clock = Clock::tokio();
    // Asked to wait until two minutes from now; a minute passes before the answer is read.
    let until = http_date(&clock, Duration::from_secs(120));
    tokio::time::advance(Duration::from_secs(60)).await;

    let throttling = Hostile::start(Hostility::Refuse {
        status: 429,
        retry_after: until.clone(),
    })
    .await;
    let settings = settings("rest", &throttling.base_url(), &throttling.base_url());
    let http = calsync::app::http_client().unwrap();
    let metrics = Arc::new(Metrics::new());
    let transport = CrmTransport::new(http.clone(), "rest", 0, metrics).with_clock(clock);
    let adapter = crm::build(&settings, transport.clone()).unwrap();
    let error = adapter
        .upsert(&record("evt-1", &[]), ExistingRecord::None)
        .await
        .unwrap_err();
    // The wall clock would say two minutes; calsync's clock says one.
    let remaining = transport.remaining_pause();
    assert!(about_a_minute(remaining), "paused for {remaining:?}");
    match error.retry() {
        Retry::After(Some(wait)) => assert!(about_a_minute(wait), "{wait:?}"),
        other => panic!("expected a wait, got {other:?}"),
    }

    let nylas = NylasClient::new(&settings.nylas, http).with_clock(clock);
    let error = nylas
        .get_event("grant-1", "evt-1", "primary")
        .await
        .unwrap_err();
    match error.retry() {
        Retry::After(Some(wait)) => assert!(about_a_minute(wait), "{wait:?}"),
        other => panic!("expected a wait, got {other:?}"),
    }
    let remaining = nylas.gate().remaining();
    assert!(about_a_minute(remaining), "Nylas paused for {remaining:?}");
}
