//! `calsync dlq`: list and requeue dead letters (jobs that failed for good: a permanent error,
//! or `sync.max_attempts` failures of the event itself).
//!
//! - `dlq list [--json] [--limit N]` prints them oldest first: id, event id, grant id,
//!   attempts, when the job died, and the last error (a table, or a JSON array with the full
//!   request details).
//! - `dlq retry <ID>...` / `dlq retry --all` requeues them through the ordinary enqueue path
//!   (coalescing with any newer job of the same event) and prints how many were requeued.
//!   Ids that name no dead letter are reported and make the command fail (after requeueing the
//!   others). A dead letter of a deleted grant cannot run and stays where it is (reported).
//!
//! Both work while `calsync serve` runs against the same store: each is one short transaction
//! (SQLite's busy timeout makes it wait for the daemon's writer, never the reverse), and the
//! daemon picks requeued jobs up at its next poll (within 5 seconds).

use std::collections::BTreeSet;
use std::io::Write;

use jiff::Timestamp;
use secrecy::ExposeSecret;
use serde_json::json;

use super::table::Table;
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::{self, DeadLetter, DeadLetterSelection, DeadLetters, JobAction, StoreError};

/// The longest last-error text shown in the table (`--json` shows all of it).
const MAX_ERROR_WIDTH: usize = 100;
/// The longest event or grant id shown in the table (Microsoft's are about 150 characters).
const MAX_ID_WIDTH: usize = 160;

/// `calsync dlq …`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DlqCommand {
    /// List dead letters, oldest first.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Show at most this many.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Requeue dead letters: their events are synced again.
    Retry {
        /// The ids to requeue (the first column of `dlq list`).
        #[arg(
            value_name = "ID",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        ids: Vec<i64>,
        /// Requeue every dead letter.
        #[arg(long)]
        all: bool,
    },
}

/// Why a `dlq` command failed.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The output could not be written.
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
    /// Dead letter ids that do not exist.
    #[error("no such dead letter: {} (see `calsync dlq list`)", join(.0))]
    UnknownIds(Vec<i64>),
}

/// What `dlq retry` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryReport {
    /// Dead letters requeued (and removed).
    pub requeued: u64,
    /// Requested ids that name no dead letter.
    pub unknown: Vec<i64>,
    /// Dead letters left in place because their grant is deleted.
    pub left: Vec<i64>,
}

/// Runs a `dlq` command against the configured store, printing to `out`.
pub async fn run(
    command: &DlqCommand,
    settings: &Settings,
    clock: Clock,
    out: &mut dyn Write,
) -> Result<(), DlqError> {
    let store = store::open(settings.store.url.expose_secret()).await?;
    match command {
        DlqCommand::List { json, limit } => {
            let letters = store.list_dead_letters(limit.unwrap_or(usize::MAX)).await?;
            let text = if *json {
                render_json(&letters)
            } else {
                render_table(&letters)
            };
            out.write_all(text.as_bytes()).map_err(DlqError::Output)
        }
        DlqCommand::Retry { ids, all } => {
            let selection = if *all {
                DeadLetterSelection::All
            } else {
                DeadLetterSelection::Ids(ids.clone())
            };
            let report = retry(store.as_ref(), &selection, clock.now()).await?;
            out.write_all(render_report(&report).as_bytes())
                .map_err(DlqError::Output)?;
            if report.unknown.is_empty() {
                Ok(())
            } else {
                Err(DlqError::UnknownIds(report.unknown))
            }
        }
    }
}

/// Requeues the selected dead letters and says what happened to each requested one.
pub async fn retry(
    store: &dyn DeadLetters,
    selection: &DeadLetterSelection,
    now: Timestamp,
) -> Result<RetryReport, StoreError> {
    let before = dead_letter_ids(store).await?;
    let wanted: BTreeSet<i64> = match selection {
        DeadLetterSelection::All => before.clone(),
        DeadLetterSelection::Ids(ids) => ids.iter().copied().collect(),
    };
    let unknown = wanted.difference(&before).copied().collect();
    let requeued = store.retry_dead_letters(selection, now).await?;
    // Still there afterwards, though selected and present before: a deleted grant's (dead
    // letters buried meanwhile have new ids, so they are not mistaken for these).
    let after = dead_letter_ids(store).await?;
    let left = wanted
        .intersection(&before)
        .filter(|id| after.contains(id))
        .copied()
        .collect();
    Ok(RetryReport {
        requeued,
        unknown,
        left,
    })
}

async fn dead_letter_ids(store: &dyn DeadLetters) -> Result<BTreeSet<i64>, StoreError> {
    let letters = store.list_dead_letters(usize::MAX).await?;
    Ok(letters.iter().map(|letter| letter.id).collect())
}

/// The human summary of a retry.
pub fn render_report(report: &RetryReport) -> String {
    let mut text = format!(
        "Requeued {} dead letter{}.\n",
        report.requeued,
        if report.requeued == 1 { "" } else { "s" }
    );
    if !report.left.is_empty() {
        text.push_str(&format!(
            "Left in place (their grant is deleted, so they can never run): {}.\n",
            join(&report.left)
        ));
    }
    text
}

/// A table with one row per dead letter (cells escaped and cut: `--json` has everything).
pub fn render_table(letters: &[DeadLetter]) -> String {
    if letters.is_empty() {
        return "No dead letters.\n".to_string();
    }
    let mut table = Table::new(&[
        ("ID", 20),
        ("EVENT", MAX_ID_WIDTH),
        ("GRANT", MAX_ID_WIDTH),
        ("ATTEMPTS", 10),
        ("DEAD AT", 30),
        ("LAST ERROR", MAX_ERROR_WIDTH),
    ]);
    for letter in letters {
        table.row([
            letter.id.to_string(),
            letter.request.record_key.to_string(),
            letter.request.grant_id.to_string(),
            letter.attempts.to_string(),
            format!("{:.0}", letter.dead_at),
            one_line(&letter.last_error),
        ]);
    }
    table.render()
}

/// A JSON array with every detail of each dead letter.
pub fn render_json(letters: &[DeadLetter]) -> String {
    let items: Vec<_> = letters
        .iter()
        .map(|letter| {
            json!({
                "id": letter.id,
                "event_id": letter.request.record_key,
                "grant_id": letter.request.grant_id,
                "calendar_id": letter.request.calendar_id,
                "action": match letter.request.action {
                    JobAction::Upsert => "upsert",
                    JobAction::Delete => "delete",
                },
                "attempts": letter.attempts,
                "last_error": letter.last_error,
                "enqueued_at": letter.enqueued_at.to_string(),
                "dead_at": letter.dead_at.to_string(),
            })
        })
        .collect();
    let mut text = serde_json::Value::Array(items).to_string();
    text.push('\n');
    text
}

/// `text` on one line: runs of whitespace (newlines included) become one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn join(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{JobRequest, JobSource, PayloadOrigin};

    fn letter(id: i64, error: &str) -> DeadLetter {
        DeadLetter {
            id,
            request: JobRequest {
                record_key: format!("evt-{id}").into(),
                grant_id: "grant-1".into(),
                calendar_id: Some("primary".into()),
                action: JobAction::Upsert,
                payload: None,
                origin: PayloadOrigin::None,
                version: None,
                force_fetch: false,
                source: JobSource::Webhook,
                notification_id: None,
            },
            attempts: 3,
            last_error: error.into(),
            enqueued_at: Timestamp::from_second(1_782_000_000).unwrap(),
            dead_at: Timestamp::from_second(1_782_000_060).unwrap(),
        }
    }

    #[test]
    fn the_table_aligns_columns_and_shortens_errors() {
        let long = format!("writing to the CRM failed: {}", "x".repeat(300));
        let text = render_table(&[letter(7, "HTTP 422:\n bad date"), letter(12, &long)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with("ID  EVENT   GRANT    ATTEMPTS  DEAD AT"),
            "{text}"
        );
        assert!(
            lines[1].starts_with(
                "7   evt-7   grant-1  3         2026-06-21T00:01:00Z  HTTP 422: bad date"
            ),
            "{text}"
        );
        assert!(lines[2].ends_with('…'), "{text}");
        assert!(lines[2].chars().count() < 200, "{text}");
        assert_eq!(render_table(&[]), "No dead letters.\n");
    }

    #[test]
    fn huge_and_hostile_ids_neither_panic_nor_reach_the_terminal_raw() {
        let mut hostile = letter(1, "HTTP 400: \u{1b}]0;owned\u{7}");
        hostile.request.record_key = format!("\u{1b}[2J{}", "e".repeat(65_536)).into();
        hostile.request.grant_id = "grant\nFORGED".into();
        let text = render_table(&[hostile]);
        assert_eq!(text.lines().count(), 2, "{text:?}");
        let controls = text.chars().filter(|c| c.is_control());
        assert!(controls.clone().all(|c| c == '\n'), "{text:?}");
        let row = text.lines().nth(1).unwrap();
        assert!(row.starts_with("1   \\u{1b}[2Jeee"), "{row}");
        assert!(row.contains("grant\\nFORGED"), "{row}");
        assert!(row.chars().count() < 400, "{}", row.chars().count());
    }

    #[test]
    fn json_carries_every_detail() {
        let text = render_json(&[letter(7, "HTTP 422")]);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value[0]["id"], 7);
        assert_eq!(value[0]["event_id"], "evt-7");
        assert_eq!(value[0]["grant_id"], "grant-1");
        assert_eq!(value[0]["attempts"], 3);
        assert_eq!(value[0]["last_error"], "HTTP 422");
        assert_eq!(value[0]["dead_at"], "2026-06-21T00:01:00Z");
    }

    #[test]
    fn the_report_counts_and_names_what_stayed() {
        let report = RetryReport {
            requeued: 1,
            unknown: vec![],
            left: vec![4, 5],
        };
        assert_eq!(
            render_report(&report),
            "Requeued 1 dead letter.\nLeft in place (their grant is deleted, so they can never run): 4, 5.\n"
        );
        assert_eq!(
            DlqError::UnknownIds(vec![9, 10]).to_string(),
            "no such dead letter: 9, 10 (see `calsync dlq list`)"
        );
    }
}
