//! Progress of a backfill and its summary.
//!
//! On a terminal ([`ProgressMode::Bar`]) an `indicatif` bar on stderr shows a spinner until the
//! first calendars are found, then advances with every page read and every calendar finished,
//! with calendars done out of found, pages, events seen and their rate, and the outcome counts.
//! Log lines are written around it (the logging's [`BarSlot`]), never through it. Otherwise
//! ([`ProgressMode::Log`]) a structured info line is logged after every page and every grant.
//! Either way the counts end in a [`Summary`].
//!
//! The bar counts pages: its position is the pages read, its length the pages read plus one for
//! each calendar not finished (each has at least one page to go), so it moves with every page,
//! jumps when a calendar ends, and is full exactly when every calendar is.
//!
//! Invariants: every listed event is counted exactly once, in exactly one outcome, so
//! `events_seen = created + updated + unchanged + deleted + failed + handed_to_serve`; counting
//! is shared by the concurrent grant tasks behind one mutex held only to add; the bar's position
//! never exceeds its length.

use std::fmt;
use std::io::IsTerminal;
use std::sync::Mutex;
// `std` Instant: the elapsed time only feeds the rates shown to the operator (see `crate::clock`).
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::Window;
use crate::printable;
use crate::telemetry::console::BarSlot;
use crate::worker::SyncOutcome;

/// The bar once calendars are known (position and length count pages, see the module docs).
const BAR_TEMPLATE: &str = "{spinner} {elapsed_precise} [{bar:24}] {percent:>3}% · {msg}";
/// Before: listing grants and calendars.
const SPINNER_TEMPLATE: &str = "{spinner} {elapsed_precise} {msg}";

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A progress bar on stderr.
    Bar,
    /// Structured log lines.
    Log,
}

impl ProgressMode {
    /// A bar when stderr is a terminal, log lines otherwise.
    pub fn detect() -> ProgressMode {
        if std::io::stderr().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Log
        }
    }
}

/// The log filter to use while the bar is shown: `level` with the write path's per-event info
/// lines (`calsync::worker`) raised to warnings, so the bar stays readable; warnings and errors
/// still print.
pub fn behind_bar_log_level(level: &str) -> String {
    format!("{level},calsync::worker=warn")
}

/// What became of one listed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// The backfill ran the write path for it.
    Synced(SyncOutcome),
    /// It failed for good (a dead letter now).
    Failed,
    /// Another process (`serve`) holds it, or will run it: left queued for it.
    HandedToServe,
    /// It still failed after the backfill's own retries: left queued, with its retry schedule,
    /// for `serve` (counted as failed).
    Retrying,
}

/// Why a grant was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Nylas reports its `grant_status` other than `valid`.
    NotValid,
    /// calsync has it paused (`grant.expired`) or deleted (`grant.deleted`).
    PausedOrDeleted,
}

/// The counts of a backfill.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The window read (Unix seconds).
    pub window: Option<Window>,
    /// Grants the application lists.
    pub grants_found: u64,
    /// Grants whose calendars were all read.
    pub grants_done: u64,
    /// Grants skipped because Nylas does not report them valid.
    pub grants_skipped_not_valid: u64,
    /// Grants skipped because calsync paused them (expired credentials).
    pub grants_skipped_paused: u64,
    /// Grants whose listing failed.
    pub grants_failed: u64,
    /// Calendars selected for reading (those left out are `calendars_excluded`).
    pub calendars_found: u64,
    /// Calendars left out by `sync.calendars` or `exclude_read_only_calendars`.
    pub calendars_excluded: u64,
    /// Calendars read to the end of the window.
    pub calendars_done: u64,
    /// Calendars whose listing failed.
    pub calendars_failed: u64,
    /// Pages of events read and processed.
    pub pages_done: u64,
    /// Events listed in the window.
    pub events_seen: u64,
    /// Records created in the CRM.
    pub created: u64,
    /// Records updated in the CRM.
    pub updated: u64,
    /// Already current in the CRM (same content, or a newer version written): no CRM call.
    pub unchanged: u64,
    /// Soft-deleted, or found gone with nothing to delete.
    pub deleted: u64,
    /// Dead-lettered, or still failing after the backfill's retries (left queued for `serve`).
    pub failed: u64,
    /// Jobs left to a `serve` process that held (or would take) the event's key.
    pub handed_to_serve: u64,
    /// The run was stopped (signal) before it finished.
    pub interrupted: bool,
    /// What failed (grants and calendars), first ones only.
    pub errors: Vec<String>,
}

/// The most error messages a summary keeps.
const MAX_ERRORS: usize = 20;
/// The longest error message the summary prints (escaped, then cut).
const MAX_ERROR_WIDTH: usize = 500;

impl Summary {
    /// True when everything listed was synced (or handed on) and nothing failed.
    pub fn succeeded(&self) -> bool {
        !self.interrupted
            && self.failed == 0
            && self.grants_failed == 0
            && self.calendars_failed == 0
    }

    /// True when every selected calendar was read to its end (failed events notwithstanding).
    pub fn listing_complete(&self) -> bool {
        !self.interrupted && self.grants_failed == 0 && self.calendars_failed == 0
    }

    fn count(&mut self, outcome: EventOutcome) {
        self.events_seen += 1;
        let slot = match outcome {
            EventOutcome::Synced(SyncOutcome::Created) => &mut self.created,
            EventOutcome::Synced(SyncOutcome::Updated) => &mut self.updated,
            EventOutcome::Synced(SyncOutcome::Unchanged | SyncOutcome::Stale) => {
                &mut self.unchanged
            }
            EventOutcome::Synced(SyncOutcome::Deleted | SyncOutcome::NothingToDelete) => {
                &mut self.deleted
            }
            EventOutcome::Failed | EventOutcome::Retrying => &mut self.failed,
            EventOutcome::HandedToServe => &mut self.handed_to_serve,
        };
        *slot += 1;
    }

    fn error(&mut self, message: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(message);
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.interrupted {
            "interrupted (run the same command again to resume)"
        } else if self.succeeded() {
            "finished"
        } else {
            "finished with failures"
        };
        writeln!(f, "Backfill {state}.")?;
        if let Some(window) = self.window {
            writeln!(f, "  window:          {window}")?;
        }
        writeln!(
            f,
            "  grants:          {} found, {} done, {} skipped (not valid: {}, paused or deleted: {}), {} failed",
            self.grants_found,
            self.grants_done,
            self.grants_skipped_not_valid + self.grants_skipped_paused,
            self.grants_skipped_not_valid,
            self.grants_skipped_paused,
            self.grants_failed
        )?;
        writeln!(
            f,
            "  calendars:       {} read, {} excluded by configuration, {} failed",
            self.calendars_done, self.calendars_excluded, self.calendars_failed
        )?;
        writeln!(f, "  events seen:     {}", self.events_seen)?;
        writeln!(f, "    created:         {}", self.created)?;
        writeln!(f, "    updated:         {}", self.updated)?;
        writeln!(f, "    unchanged:       {}", self.unchanged)?;
        writeln!(f, "    deleted/gone:    {}", self.deleted)?;
        writeln!(f, "    failed:          {}", self.failed)?;
        write!(f, "    handed to serve: {}", self.handed_to_serve)?;
        for error in &self.errors {
            write!(f, "\n  error: {}", printable::cell(error, MAX_ERROR_WIDTH))?;
        }
        Ok(())
    }
}

/// Counts and shows progress; shared by the grant tasks.
pub struct Progress {
    summary: Mutex<Summary>,
    bar: Option<ProgressBar>,
    /// Where the bar is shown to the logging, so log lines suspend it.
    slot: Option<BarSlot>,
    started: Instant,
}

impl Progress {
    /// Progress for a run over `window`, shown as `mode` says (a bar on stderr, shown to the
    /// logging of stderr).
    pub fn new(mode: ProgressMode, window: Window) -> Progress {
        match mode {
            ProgressMode::Bar => {
                Progress::with_bar(window, ProgressDrawTarget::stderr(), BarSlot::stderr())
            }
            ProgressMode::Log => Progress {
                summary: Mutex::new(Summary {
                    window: Some(window),
                    ..Summary::default()
                }),
                bar: None,
                slot: None,
                started: Instant::now(),
            },
        }
    }

    /// Progress drawn as a bar on `target`, shown in `slot` until [`Progress::finish`].
    pub fn with_bar(window: Window, target: ProgressDrawTarget, slot: BarSlot) -> Progress {
        let bar = ProgressBar::with_draw_target(None, target);
        if let Ok(style) = ProgressStyle::with_template(SPINNER_TEMPLATE) {
            bar.set_style(style);
        }
        bar.set_message("listing grants and calendars");
        bar.enable_steady_tick(Duration::from_millis(200));
        slot.show(Some(bar.clone()));
        Progress {
            summary: Mutex::new(Summary {
                window: Some(window),
                ..Summary::default()
            }),
            bar: Some(bar),
            slot: Some(slot),
            started: Instant::now(),
        }
    }

    /// Applies `change` to the counts and refreshes the bar; returns a copy of the counts.
    fn update(&self, change: impl FnOnce(&mut Summary)) -> Summary {
        let snapshot = {
            let mut summary = self.summary.lock().unwrap_or_else(|p| p.into_inner());
            change(&mut summary);
            summary.clone()
        };
        if let Some(bar) = &self.bar {
            self.draw(bar, &snapshot);
        }
        snapshot
    }

    fn draw(&self, bar: &ProgressBar, s: &Summary) {
        if s.calendars_found > 0 || s.pages_done > 0 {
            if bar.length().is_none()
                && let Ok(style) = ProgressStyle::with_template(BAR_TEMPLATE)
            {
                bar.set_style(style.progress_chars("=> "));
            }
            let open = s
                .calendars_found
                .saturating_sub(s.calendars_done + s.calendars_failed);
            bar.set_length(s.pages_done + open);
            bar.set_position(s.pages_done);
        }
        bar.set_message(self.message(s));
    }

    fn message(&self, s: &Summary) -> String {
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        format!(
            "calendars {}/{} · pages {} · events {} ({:.0}/s) · created {} updated {} unchanged {} failed {} handed {} · grants {}/{}",
            s.calendars_done + s.calendars_failed,
            s.calendars_found,
            s.pages_done,
            s.events_seen,
            s.events_seen as f64 / seconds,
            s.created,
            s.updated,
            s.unchanged,
            s.failed,
            s.handed_to_serve,
            s.grants_done,
            s.grants_found
                .saturating_sub(s.grants_skipped_not_valid + s.grants_skipped_paused),
        )
    }

    /// `n` grants were found to consider.
    pub fn grants_found(&self, n: usize) {
        self.update(|s| s.grants_found += n as u64);
    }

    /// A grant was skipped.
    pub fn grant_skipped(&self, reason: SkipReason) {
        self.update(|s| match reason {
            SkipReason::NotValid => s.grants_skipped_not_valid += 1,
            SkipReason::PausedOrDeleted => s.grants_skipped_paused += 1,
        });
    }

    /// A grant's calendars were all read.
    pub fn grant_done(&self, grant_id: &str) {
        let s = self.update(|s| s.grants_done += 1);
        if self.bar.is_none() {
            tracing::info!(grant.id = %grant_id, grants.done = s.grants_done, "Backfill: grant done.");
        }
    }

    /// A grant could not be read completely.
    pub fn grant_failed(&self, grant_id: &str, error: &str) {
        self.update(|s| {
            s.grants_failed += 1;
            s.error(format!("grant {grant_id}: {error}"));
        });
    }

    /// A grant's calendars were listed: `selected` will be read, `excluded` not.
    pub fn calendars_found(&self, selected: usize, excluded: usize) {
        self.update(|s| {
            s.calendars_found += selected as u64;
            s.calendars_excluded += excluded as u64;
        });
    }

    /// A calendar was read to its end.
    pub fn calendar_done(&self) {
        self.update(|s| s.calendars_done += 1);
    }

    /// A calendar could not be read to its end.
    pub fn calendar_failed(&self, grant_id: &str, calendar_id: &str, error: &str) {
        self.update(|s| {
            s.calendars_failed += 1;
            s.error(format!("grant {grant_id}, calendar {calendar_id}: {error}"));
        });
    }

    /// One listed event's outcome.
    pub fn event(&self, outcome: EventOutcome) {
        self.update(|s| s.count(outcome));
    }

    /// A page of `events` events of a calendar was processed.
    pub fn page_done(&self, grant_id: &str, calendar_id: &str, events: usize) {
        let s = self.update(|s| s.pages_done += 1);
        if self.bar.is_some() {
            return;
        }
        tracing::info!(
            grant.id = %grant_id,
            calendar.id = %calendar_id,
            page.events = events,
            pages.done = s.pages_done,
            events.seen = s.events_seen,
            events.created = s.created,
            events.updated = s.updated,
            events.unchanged = s.unchanged,
            events.failed = s.failed,
            events.handed_to_serve = s.handed_to_serve,
            calendars.done = s.calendars_done,
            calendars.found = s.calendars_found,
            "Backfill: page done."
        );
    }

    /// Marks the run interrupted.
    pub fn interrupted(&self) {
        self.update(|s| s.interrupted = true);
    }

    /// Removes the bar (log lines go straight to the terminal again) and returns the counts.
    pub fn finish(&self) -> Summary {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(slot) = &self.slot {
            slot.show(None);
        }
        self.summary
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests;
