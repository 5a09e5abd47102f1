//! One reconciliation pass: [`Reconciler::run_once`] (every grant) and
//! [`Reconciler::run_resumed`] (grants active again since the last full pass).
//!
//! Invariants: nothing runs without the `reconcile` lock, which is renewed between grants (a
//! pass that lost it stops); a calendar's watermark advances to the pass's start only after all
//! its pages were listed and enqueued; the `updated_after` asked is never later than the
//! calendar's watermark, nor than its grant's floor, minus the safety margin; the window reaches
//! at least `now + sync.series_horizon`, and the series whose last complete listing fell behind
//! the horizon by a day or more are re-expanded, so a series keeps gaining occurrences as time
//! passes without anyone touching it (`updated_after` alone would never list them).

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::{LOCK, PassReport, ReconcileError, Reconciler};
use crate::ids::GrantId;
use crate::nylas::models::Calendar;
use crate::store::{GrantStatus, JobSource, StoreError};
use crate::sweep::Window;
use crate::sweep::listing::{self, ListError};
use crate::sweep::series::{self, refresh_job};
use crate::sweep::watermark::{self, floor_key, watermark_key};

const DAY: i64 = 86_400;
/// The most series one pass re-expands per grant (the next pass takes the rest).
const SERIES_PER_PASS: usize = 500;

/// What reconciling one grant did.
#[derive(Debug, Default)]
struct GrantResult {
    calendars_ok: u64,
    calendars_failed: u64,
    events: u64,
    /// Its calendars could not even be listed.
    failed: bool,
}

impl Reconciler {
    /// A full pass at `now`: every grant Nylas lists. `ran` is false when another replica holds
    /// the lock.
    pub async fn run_once(&self, now: Timestamp) -> Result<PassReport, ReconcileError> {
        let mut report = PassReport::default();
        if !self
            .store
            .try_lock(LOCK, &self.owner, now, self.lock_ttl())
            .await?
        {
            return Ok(report);
        }
        report.ran = true;
        let grants = self.lister.grants().await.map_err(ReconcileError::Grants)?;
        let mut paused = BTreeSet::new();
        for grant in grants {
            let id = grant.id.as_str();
            let grant_id = GrantId::from(id);
            match self.store.grant_status(&grant_id).await? {
                GrantStatus::Active => {}
                GrantStatus::Paused { since } if grant.is_valid() && paused_long(since, now) => {
                    // A grant.updated notification may have been lost (the webhook was failing
                    // when the grant was re-authenticated): Nylas says the grant works, so try it.
                    // If it still fails, the next job's 401 pauses it again (one request).
                    tracing::warn!(grant.id = %id, paused_since = %since, "Nylas lists the paused grant as valid; resuming it and re-reading what changed since it was paused.");
                    self.store
                        .set_grant_status(&grant_id, &GrantStatus::Active, now)
                        .await?;
                    self.lower_floor(id, since.as_second(), now).await?;
                }
                GrantStatus::Paused { since } => {
                    tracing::warn!(grant.id = %id, paused_since = %since, "The grant is paused (grant.expired): its events wait until it is re-authenticated (grant.updated).");
                    self.lower_floor(id, since.as_second(), now).await?;
                    paused.insert(id.to_string());
                    report.grants_paused += 1;
                    report.grants_skipped += 1;
                    continue;
                }
                GrantStatus::Deleted { .. } => {
                    report.grants_skipped += 1;
                    continue;
                }
            }
            if !grant.is_valid() {
                tracing::warn!(grant.id = %id, grant.status = ?grant.grant_status, "Nylas reports the grant not valid; it is not reconciled until it is re-authenticated.");
                self.lower_floor(id, now.as_second(), now).await?;
                report.grants_skipped += 1;
                continue;
            }
            add(&mut report, self.reconcile_grant(id, now).await?);
            if !self
                .store
                .try_lock(LOCK, &self.owner, self.clock.now(), self.lock_ttl())
                .await?
            {
                tracing::warn!(
                    "Lost the reconciliation lock during a pass; another replica continues."
                );
                break;
            }
        }
        self.set_paused(paused);
        Ok(report)
    }

    /// Reconciles, at `now`, the grants the last full pass found paused that are active again.
    /// `ran` is false when there were none (or another replica holds the lock).
    pub async fn run_resumed(&self, now: Timestamp) -> Result<PassReport, ReconcileError> {
        let mut report = PassReport::default();
        let mut resumed = Vec::new();
        for grant in self.paused_grants() {
            match self
                .store
                .grant_status(&GrantId::from(grant.as_str()))
                .await?
            {
                GrantStatus::Active => resumed.push(grant),
                GrantStatus::Paused { .. } => {}
                GrantStatus::Deleted { .. } => self.unpause(&grant),
            }
        }
        if resumed.is_empty()
            || !self
                .store
                .try_lock(LOCK, &self.owner, now, self.lock_ttl())
                .await?
        {
            return Ok(report);
        }
        report.ran = true;
        for grant in resumed {
            tracing::info!(grant.id = %grant, "The grant was re-authenticated; re-reading what changed while it was paused.");
            let result = self.reconcile_grant(&grant, now).await?;
            if !result.failed && result.calendars_failed == 0 {
                self.unpause(&grant);
            }
            add(&mut report, result);
        }
        Ok(report)
    }

    /// Reconciles every selected calendar of one grant.
    async fn reconcile_grant(
        &self,
        grant_id: &str,
        now: Timestamp,
    ) -> Result<GrantResult, StoreError> {
        let mut result = GrantResult::default();
        let calendars = match self.lister.calendars(grant_id).await {
            Ok(calendars) => calendars,
            Err(error) => {
                tracing::warn!(grant.id = %grant_id, error = %crate::cause::Chain(&error), "Listing the grant's calendars failed; it is reconciled at the next pass.");
                result.failed = true;
                return Ok(result);
            }
        };
        let floor = watermark::read(self.store.as_ref(), &floor_key(grant_id)).await?;
        for calendar in &calendars.selected {
            match self
                .reconcile_calendar(grant_id, calendar, floor, now)
                .await?
            {
                Ok(events) => {
                    result.calendars_ok += 1;
                    result.events += events;
                }
                Err(error) => {
                    tracing::warn!(grant.id = %grant_id, calendar.id = %calendar.id, error = %crate::cause::Chain(&error), "Reconciling a calendar failed; its watermark stays, so the next pass covers the gap.");
                    result.calendars_failed += 1;
                }
            }
        }
        if floor.is_some() && result.calendars_failed == 0 {
            self.store.delete_cursors(&floor_key(grant_id)).await?;
        }
        self.roll_series_horizon(grant_id, now).await?;
        Ok(result)
    }

    /// Lists one calendar's changed events and enqueues them; the outer error is the store's,
    /// the inner one Nylas's (the calendar failed, the pass goes on).
    async fn reconcile_calendar(
        &self,
        grant_id: &str,
        calendar: &Calendar,
        floor: Option<i64>,
        now: Timestamp,
    ) -> Result<Result<u64, ListError>, StoreError> {
        let key = watermark_key(grant_id, &calendar.id);
        let stored = watermark::read(self.store.as_ref(), &key).await?;
        let interval = i64::try_from(self.settings.interval.as_secs()).unwrap_or(i64::MAX);
        let margin = i64::try_from(self.settings.safety_margin.as_secs()).unwrap_or(i64::MAX);
        let start = now.as_second();
        let since = stored.unwrap_or(start.saturating_sub(interval));
        let since = floor.map_or(since, |floor| since.min(floor));
        let updated_after = since.saturating_sub(margin);
        let horizon_end = start.saturating_add(self.horizon_seconds());
        let window = Window {
            start: start.saturating_sub(i64::from(self.settings.window_days.back) * DAY),
            end: start
                .saturating_add(i64::from(self.settings.window_days.ahead) * DAY)
                .max(horizon_end),
        };
        let mut token = None;
        let mut events = 0u64;
        loop {
            let query = listing::event_query(&calendar.id, window, Some(updated_after), token);
            let page = match self.lister.events(grant_id, &query).await {
                Ok(page) => page,
                Err(error) => return Ok(Err(error)),
            };
            let sorted = series::sort_page(
                self.store.as_ref(),
                &page.data,
                grant_id,
                &calendar.id,
                horizon_end,
                JobSource::Reconcile,
            )
            .await?;
            let mut jobs = listing::jobs_for_page(
                &sorted.events,
                grant_id,
                &calendar.id,
                JobSource::Reconcile,
            );
            // Events listed (series refreshes are not events).
            let listed = jobs.len() as u64;
            jobs.extend(sorted.refresh);
            self.store.enqueue(&jobs, self.clock.now()).await?;
            events += listed;
            match page.next_cursor {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        if stored.is_none_or(|stored| stored < start) {
            watermark::write(self.store.as_ref(), &key, start, self.clock.now()).await?;
        }
        Ok(Ok(events))
    }

    /// `sync.series_horizon` in whole seconds.
    fn horizon_seconds(&self) -> i64 {
        i64::try_from(self.series_horizon.as_secs()).unwrap_or(i64::MAX)
    }

    /// Enqueues a refresh of every live series of the grant whose last complete listing ends a
    /// day or more before the horizon now reaches.
    async fn roll_series_horizon(&self, grant_id: &str, now: Timestamp) -> Result<(), StoreError> {
        let grant = GrantId::from(grant_id);
        let through = now
            .as_second()
            .saturating_add(self.horizon_seconds())
            .saturating_sub(DAY);
        let due = self
            .store
            .series_to_refresh(&grant, through, SERIES_PER_PASS)
            .await?;
        if due.is_empty() {
            return Ok(());
        }
        let jobs: Vec<_> = due
            .iter()
            .map(|series| {
                refresh_job(
                    &grant,
                    &series.key.master_event_id,
                    series.calendar_id.as_deref(),
                    JobSource::Reconcile,
                )
            })
            .collect();
        tracing::info!(grant.id = %grant_id, series = jobs.len(), "Re-expanding series whose horizon moved.");
        self.store.enqueue(&jobs, self.clock.now()).await
    }

    /// Makes the grant's floor no later than `at`.
    async fn lower_floor(&self, grant_id: &str, at: i64, now: Timestamp) -> Result<(), StoreError> {
        let key = floor_key(grant_id);
        match watermark::read(self.store.as_ref(), &key).await? {
            Some(floor) if floor <= at => Ok(()),
            _ => watermark::write(self.store.as_ref(), &key, at, now).await,
        }
    }
}

fn add(report: &mut PassReport, result: GrantResult) {
    if result.failed {
        report.grants_failed += 1;
    } else {
        report.grants_reconciled += 1;
    }
    report.calendars_reconciled += result.calendars_ok;
    report.calendars_failed += result.calendars_failed;
    report.events_enqueued += result.events;
}

/// How long a grant stays paused before a pass that finds Nylas listing it as valid resumes it
/// without a `grant.updated` notification (longer than Nylas's own lag in noticing an expiry).
pub const RESUME_PROBE_AFTER: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

/// True when a grant paused `since` has been paused longer than [`RESUME_PROBE_AFTER`] at `now`.
fn paused_long(since: Timestamp, now: Timestamp) -> bool {
    now.duration_since(since).as_secs() > RESUME_PROBE_AFTER.as_secs() as i64
}
