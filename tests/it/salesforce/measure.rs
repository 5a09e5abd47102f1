//! A measurement of batch writes, run by hand (`cargo test --release --test it
//! salesforce::measure -- --ignored --nocapture`): a burst of 1,000 events × 10 edits sent
//! round-robin by 16 concurrent clients to the running worker pool (wall clock, default
//! coalescing and batching settings) against the fake Salesforce org; prints the Salesforce write
//! requests per event. It checks only that every event ends with one Event holding its last edit
//! (the counts depend on the machine's speed). `CALSYNC_MEASURE_BATCH_SIZE=1` measures the same
//! burst without batching, for comparison.

use crate::support::burst::{BURST_EDITS, BURST_EVENTS, batching_app, last_title, send_and_drain};
use crate::support::harness::CrmFake;

#[tokio::test]
#[ignore = "a measurement, not a test: run by hand with --nocapture"]
async fn measure_burst_write_requests_per_event() {
    let (app, batch_size) = batching_app(CrmFake::Salesforce, "200").await;
    let org = app
        .salesforce
        .clone()
        .expect("the app writes to Salesforce");
    let (sent_in, drained_in) = send_and_drain(&app, "grant-1").await;
    for index in 0..BURST_EVENTS {
        let events = org.events_for(&format!("evt-{index}"));
        assert_eq!(events.len(), 1, "evt-{index}");
        assert_eq!(events[0].text("Subject"), last_title());
    }
    let requests = org.requests();
    let writes = requests
        .iter()
        .filter(|(method, _)| method != "GET")
        .count();
    let collections = org.collection_sizes();
    println!(
        "salesforce, batch_size={batch_size}: {} notifications sent in {sent_in:?}, {writes} write \
         requests for {BURST_EVENTS} events ({:.3} per event; {} collections, largest {}), {} API \
         requests in all, drained in {drained_in:?}",
        BURST_EVENTS * BURST_EDITS,
        writes as f64 / BURST_EVENTS as f64,
        collections.len(),
        collections.iter().max().unwrap_or(&0),
        requests.len(),
    );
}
