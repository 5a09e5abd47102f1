//! Listing and writing overlap: the next page of a calendar is fetched while the current page is
//! still being written (issue 13 item 4), and the checkpoint still only moves past a page once
//! every event of it was handled.

use std::time::Duration;

use super::world::*;
use super::{app, backfill, team_tokens, token};

/// Polls (in test time) until `done` holds, at most `limit`; whether it did.
async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let step = Duration::from_millis(5);
    let mut waited = Duration::ZERO;
    while !done() {
        if waited >= limit {
            return false;
        }
        tokio::time::sleep(step).await;
        waited += step;
    }
    true
}

#[tokio::test]
async fn the_next_page_is_fetched_while_the_current_page_is_written() {
    let app = app().await;
    let expected = populate(&app.nylas);
    // The first team event's write is held until the second team page has been requested.
    let held = app.crm.hold("team-00");
    let run = backfill(&app, options(&[]));
    let watch = async {
        held.arrived().await;
        let prefetched = eventually(Duration::from_secs(20), || {
            team_tokens(&app).contains(&token(PAGE))
        })
        .await;
        // Nothing past the held page was written yet: its checkpoint has not moved either.
        let written_while_held = app.crm.records_for("team-04").len();
        held.release();
        (prefetched, written_while_held)
    };
    let (summary, (prefetched, written_while_held)) = tokio::join!(run, watch);
    assert!(
        prefetched,
        "page 2 was not requested while page 1 was being written"
    );
    assert_eq!(
        written_while_held, 0,
        "page 2 was written before page 1 ended"
    );
    assert!(summary.succeeded(), "{summary}");
    assert_eq!(synced(&app.crm), expected);
    let pages = TEAM_EVENTS.div_ceil(PAGE);
    assert_eq!(team_tokens(&app).len(), pages, "each page is read once");
}
