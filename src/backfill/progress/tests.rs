use std::io::Write as _;
use std::sync::{Arc, Mutex as StdMutex};

use indicatif::TermLike;
use tracing_subscriber::fmt::MakeWriter;

use super::*;
use crate::telemetry::console::ConsoleWriter;

#[test]
fn the_bar_hides_per_event_lines_only() {
    let level = behind_bar_log_level("info,sqlx=warn");
    assert_eq!(level, "info,sqlx=warn,calsync::worker=warn");
    assert!(crate::telemetry::env_filter(&level).is_ok());
}

#[test]
fn every_event_lands_in_one_count_and_failures_fail_the_run() {
    let progress = Progress::new(
        ProgressMode::Log,
        Window {
            start: 0,
            end: 86_400,
        },
    );
    progress.grants_found(3);
    progress.grant_skipped(SkipReason::NotValid);
    progress.calendars_found(2, 1);
    for outcome in [
        EventOutcome::Synced(SyncOutcome::Created),
        EventOutcome::Synced(SyncOutcome::Updated),
        EventOutcome::Synced(SyncOutcome::Unchanged),
        EventOutcome::Synced(SyncOutcome::Stale),
        EventOutcome::Synced(SyncOutcome::NothingToDelete),
        EventOutcome::HandedToServe,
    ] {
        progress.event(outcome);
    }
    progress.calendar_done();
    progress.calendar_done();
    progress.grant_done("g1");
    let summary = progress.finish();
    assert_eq!(summary.events_seen, 6);
    assert_eq!(
        (
            summary.created,
            summary.updated,
            summary.unchanged,
            summary.deleted,
            summary.handed_to_serve
        ),
        (1, 1, 2, 1, 1)
    );
    assert!(summary.succeeded());
    let text = summary.to_string();
    assert!(text.starts_with("Backfill finished."), "{text}");
    assert!(text.contains("events seen:     6"), "{text}");
    assert!(
        text.contains("1 skipped (not valid: 1, paused or deleted: 0)"),
        "{text}"
    );

    let mut failed = summary.clone();
    failed.failed = 1;
    assert!(!failed.succeeded() && failed.listing_complete());
    let mut broken = summary;
    broken.calendars_failed = 1;
    assert!(!broken.succeeded() && !broken.listing_complete());
}

fn window() -> Window {
    Window { start: 0, end: 1 }
}

fn hidden_bar() -> Progress {
    Progress::with_bar(window(), ProgressDrawTarget::hidden(), BarSlot::default())
}

fn state(progress: &Progress) -> (u64, Option<u64>) {
    let bar = progress.bar.as_ref().unwrap();
    (bar.position(), bar.length())
}

#[test]
fn the_bar_starts_as_a_spinner_then_advances_per_page_and_per_calendar() {
    assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
    assert!(ProgressStyle::with_template(SPINNER_TEMPLATE).is_ok());
    let progress = hidden_bar();
    // Not a full bar of 0/0 while nothing is known.
    assert_eq!(state(&progress), (0, None));
    progress.grants_found(1);
    assert_eq!(state(&progress), (0, None));
    progress.calendars_found(2, 1);
    assert_eq!(state(&progress), (0, Some(2)));
    let mut seen = Vec::new();
    for _ in 0..3 {
        progress.event(EventOutcome::Synced(SyncOutcome::Created));
        progress.page_done("g1", "c1", 1);
        seen.push(state(&progress));
    }
    // Every page moves the bar, which is never full while calendars are open.
    assert_eq!(seen, [(1, Some(3)), (2, Some(4)), (3, Some(5))]);
    progress.calendar_done();
    assert_eq!(state(&progress), (3, Some(4)));
    progress.page_done("g1", "c2", 0);
    assert_eq!(state(&progress), (4, Some(5)));
    progress.calendar_failed("g1", "c2", "boom");
    assert_eq!(
        state(&progress),
        (4, Some(4)),
        "full once every calendar ended"
    );
    let message = progress.bar.as_ref().unwrap().message();
    assert!(
        message.starts_with("calendars 2/2 · pages 4 · events 3"),
        "{message}"
    );
    assert!(message.contains("created 3"), "{message}");
    let summary = progress.finish();
    assert_eq!((summary.pages_done, summary.created), (4, 3));
}

#[test]
fn the_bar_is_shown_to_the_logging_until_it_finishes() {
    let slot = BarSlot::default();
    let progress = Progress::with_bar(window(), ProgressDrawTarget::hidden(), slot.clone());
    let lines = ConsoleWriter::new(slot.clone(), Vec::<u8>::new);
    assert!(lines.make_writer().shows_bar());
    progress.finish();
    assert!(!lines.make_writer().shows_bar());
}

/// A terminal recording what is drawn on it, shared with a log sink.
#[derive(Debug, Clone, Default)]
struct Screen(Arc<StdMutex<Vec<String>>>);

impl Screen {
    fn record(&self, op: String) -> std::io::Result<()> {
        self.0.lock().unwrap().push(op);
        Ok(())
    }
}

impl TermLike for Screen {
    fn width(&self) -> u16 {
        120
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.record(format!("up {n}"))
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.record(format!("down {n}"))
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.record(format!("right {n}"))
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.record(format!("left {n}"))
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.record(format!("line {s}"))
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.record(format!("str {s}"))
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.record("clear".into())
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Write for Screen {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.record(format!("log {}", String::from_utf8_lossy(bytes)))?;
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn log_lines_are_written_with_the_bar_cleared_then_redrawn() {
    let screen = Screen::default();
    let slot = BarSlot::default();
    let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
    let progress = Progress::with_bar(window(), target, slot.clone());
    progress.calendars_found(2, 0);
    progress.page_done("g1", "c1", 10);
    progress.bar.as_ref().unwrap().force_draw();
    let sink = screen.clone();
    let lines = ConsoleWriter::new(slot, move || sink.clone());
    lines.make_writer().write_all(b"WARN a log line\n").unwrap();
    let ops = screen.0.lock().unwrap().clone();
    let at = ops
        .iter()
        .position(|op| op.starts_with("log "))
        .expect("the line was written");
    let drawn = |op: &String| op.contains("calendars 0/2 · pages 1");
    assert!(
        ops[..at].iter().any(drawn),
        "the bar was drawn first: {ops:?}"
    );
    // Between the bar's last drawing and the line, only cursor moves and clears: the line
    // starts on a cleared line, not after the bar's text.
    let last_drawn = ops[..at]
        .iter()
        .rposition(|op| op.starts_with("str "))
        .unwrap();
    let between = &ops[last_drawn + 1..at];
    assert!(
        between.contains(&"clear".to_string()),
        "not cleared: {ops:?}"
    );
    assert!(
        between
            .iter()
            .all(|op| op == "clear" || op.starts_with("up ") || op.starts_with("down ")),
        "{ops:?}"
    );
    assert!(
        ops[at + 1..].iter().any(drawn),
        "and drawn again after: {ops:?}"
    );
    assert_eq!(ops.iter().filter(|op| op.starts_with("log ")).count(), 1);
    progress.finish();
}
