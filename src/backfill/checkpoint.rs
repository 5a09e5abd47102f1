//! Backfill checkpoints: where each calendar of a run stands, kept in the store's cursors so an
//! interrupted backfill continues instead of starting over.
//!
//! A *run* is identified by its window and grant selection ([`run_prefix`]); a checkpoint by
//! run, grant and calendar ([`calendar_key`]). Its value ([`Checkpoint`]) is written after each
//! completed page: the page token of the next page, or "done". A completed run deletes every
//! cursor under its prefix, so the next run with the same arguments starts fresh.
//!
//! Invariants: names are unambiguous (`/` and `%` inside ids are percent-encoded, so the grant
//! `a/b` with calendar `c` never collides with grant `a` and calendar `b/c`); one run's prefix is
//! never a prefix of another run's names (it ends with `/`); an unreadable value is treated as
//! absent (the calendar is read again from its first page, which costs no CRM write).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::args::BackfillOptions;
use crate::sweep::name_component;

/// Where a calendar of a run stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Checkpoint {
    /// Pages before `page_token` are done.
    Next {
        /// Nylas's token for the next page to read.
        page_token: String,
        /// When the calendar's first page was requested (Unix seconds).
        listing_started: i64,
    },
    /// Every page is done.
    Done {
        /// When the calendar's first page was requested (Unix seconds).
        listing_started: i64,
    },
}

impl Checkpoint {
    /// The stored form.
    pub fn encode(&self) -> String {
        // A derived Serialize of strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored value; `None` when it is not a checkpoint.
    pub fn decode(value: &str) -> Option<Checkpoint> {
        serde_json::from_str(value).ok()
    }
}

/// The cursor-name prefix of the run `options` describe (ends with `/`).
pub fn run_prefix(options: &BackfillOptions) -> String {
    let grants = if options.grants.is_empty() {
        "all".to_string()
    } else {
        let digest = Sha256::digest(options.grants.join("\n").as_bytes());
        format!("grants-{}", &hex::encode(digest)[..16])
    };
    format!(
        "backfill/{}-{}/{grants}/",
        options.window.start, options.window.end
    )
}

/// The checkpoint name of one calendar of a run.
pub fn calendar_key(run_prefix: &str, grant_id: &str, calendar_id: &str) -> String {
    format!(
        "{run_prefix}{}/{}",
        name_component(grant_id),
        name_component(calendar_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backfill::args::Window;

    fn options(grants: &[&str]) -> BackfillOptions {
        BackfillOptions {
            window: Window { start: 10, end: 20 },
            grants: grants.iter().map(|g| g.to_string()).collect(),
            concurrency: 4,
        }
    }

    #[test]
    fn runs_differ_by_window_and_grant_selection_only() {
        let all = run_prefix(&options(&[]));
        assert_eq!(all, "backfill/10-20/all/");
        let some = run_prefix(&options(&["a", "b"]));
        assert!(some.starts_with("backfill/10-20/grants-") && some.ends_with('/'));
        assert_ne!(some, run_prefix(&options(&["a"])));
        let mut faster = options(&["a", "b"]);
        faster.concurrency = 16;
        assert_eq!(run_prefix(&faster), some);
        let mut later = options(&[]);
        later.window.end = 21;
        assert_ne!(run_prefix(&later), all);
    }

    #[test]
    fn names_are_unambiguous() {
        let run = "backfill/10-20/all/";
        assert_ne!(calendar_key(run, "a/b", "c"), calendar_key(run, "a", "b/c"));
        assert_eq!(
            calendar_key(run, "g1", "team@group.calendar.google.com"),
            "backfill/10-20/all/g1/team@group.calendar.google.com"
        );
        assert_eq!(
            calendar_key(run, "g%", "x/y"),
            "backfill/10-20/all/g%25/x%2Fy"
        );
    }

    #[test]
    fn checkpoints_round_trip_and_garbage_reads_as_absent() {
        for checkpoint in [
            Checkpoint::Next {
                page_token: "done".into(),
                listing_started: 5,
            },
            Checkpoint::Done { listing_started: 6 },
        ] {
            assert_eq!(Checkpoint::decode(&checkpoint.encode()), Some(checkpoint));
        }
        assert_eq!(Checkpoint::decode("done"), None);
    }
}
