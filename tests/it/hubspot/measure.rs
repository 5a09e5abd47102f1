//! A measurement of batch writes, run by hand (`cargo test --release --test it
//! hubspot::measure -- --ignored --nocapture`): a burst of 1,000 events × 10 edits sent
//! round-robin by 16 concurrent clients to the running worker pool (wall clock, default
//! coalescing and batching settings) against the fake HubSpot; prints the HubSpot write requests
//! per event. It checks only that every event ends with one meeting holding its last edit (the
//! counts depend on the machine's speed). `CALSYNC_MEASURE_BATCH_SIZE=1` measures the same burst
//! without batching, for comparison.

use crate::support::burst::{BURST_EDITS, BURST_EVENTS, batching_app, last_title, send_and_drain};
use crate::support::fake_vendor::Recorded;
use crate::support::harness::CrmFake;

#[tokio::test]
#[ignore = "a measurement, not a test: run by hand with --nocapture"]
async fn measure_burst_write_requests_per_event() {
    let (app, batch_size) = batching_app(CrmFake::HubSpot, "100").await;
    let hubspot = app.hubspot().clone();
    let (sent_in, drained_in) = send_and_drain(&app, "grant-1").await;
    for index in 0..BURST_EVENTS {
        let meetings = hubspot.meetings_for(&format!("evt-{index}"));
        assert_eq!(meetings.len(), 1, "evt-{index}");
        assert_eq!(meetings[0].prop("hs_meeting_title"), last_title());
    }
    let writes = hubspot.write_requests();
    println!(
        "hubspot, batch_size={batch_size}: {} notifications sent in {sent_in:?}, {writes} write requests for \
         {BURST_EVENTS} events ({:.3} per event), {} requests in all, drained in {:?}",
        BURST_EVENTS * BURST_EDITS,
        writes as f64 / BURST_EVENTS as f64,
        hubspot.requests().len(),
        drained_in,
    );
}
