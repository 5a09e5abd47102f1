//! What reaches the CRM: the decision, for one live event, between "write this record" and
//! "there must be no record (reason)". The worker's write path asks [`Policy::decide`] once per
//! upsert and does what it says; a removal is carried out exactly like a deleted event.
//!
//! The decision, in order:
//! 1. calendar selection (`sync.calendars`, `sync.exclude_read_only_calendars`), with the
//!    grant's calendars listed once and cached ([`calendars`]);
//! 2. the relevance filters of `[filter]` that need only the event ([`relevance`]);
//! 3. rooms and other resources set aside from the attendees ([`rooms`]);
//! 4. privacy (`sync.private_events`): skip, or redact (after the rooms, so a room's name never
//!    becomes a private meeting's location) ([`privacy`]);
//! 5. the filters that need to know whose calendar it is (`skip_declined`,
//!    `require_external_attendee`), with the grant's address from the cached [`GrantDirectory`];
//! 6. the owner's email (`crm.owner`, [`ownership`]).
//!
//! Invariants: the decision depends only on the event, the settings and the (cached) grant and
//! calendar metadata, so running it again gives the same answer; a filtered event costs no CRM
//! call, is counted in `calsync_events_filtered_total{reason}` and logged at debug; the grant
//! directory and the calendar listing are asked only when a setting needs them.

pub mod calendars;
pub mod ownership;
pub mod privacy;
pub mod relevance;
pub mod rooms;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::config::{CalendarSelection, FilterSettings, OwnerRule, PrivateEvents, Settings};
use crate::crm::contacts::is_internal;
use crate::mapping::{self, MappingError};
use crate::nylas::directory::GrantDirectory;
use crate::nylas::{Event, NylasClient, NylasError};
use crate::record::MeetingRecord;
use crate::retry::Retry;
use crate::telemetry::metrics::Metrics;

use calendars::CalendarDirectory;

/// Where the event was read from, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A listing of the selected calendars (backfill, reconciliation): the calendar selection
    /// was applied when the calendars were chosen.
    SelectedCalendars,
    /// A notification (or a read of one event): the calendar is checked here.
    AnyCalendar,
}

/// What the write path does with an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Write this record (upsert).
    Write(Box<MeetingRecord>),
    /// The CRM must hold no record of the event: remove one it has, like a deleted event.
    Remove(SkipReason),
}

/// Why an event has no CRM record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Private, with `sync.private_events = "skip"`.
    Private,
    /// Not in the grant's primary calendar, with `sync.calendars = "primary"`.
    NotPrimaryCalendar,
    /// In a read-only calendar, with `sync.exclude_read_only_calendars`.
    ReadOnlyCalendar,
    /// A Google event type listed in `filter.skip_event_types`.
    EventType,
    /// All day, with `filter.skip_all_day`.
    AllDay,
    /// Free (`busy = false`), with `filter.skip_free`.
    Free,
    /// The title matches `filter.skip_titles`.
    Title,
    /// Declined by the grant's owner, with `filter.skip_declined`.
    Declined,
    /// Nobody from outside the company, with `filter.require_external_attendee`.
    NoExternalAttendee,
}

impl SkipReason {
    /// The `reason` label of `calsync_events_filtered_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Private => "private",
            SkipReason::NotPrimaryCalendar => "not_primary_calendar",
            SkipReason::ReadOnlyCalendar => "read_only_calendar",
            SkipReason::EventType => "event_type",
            SkipReason::AllDay => "all_day",
            SkipReason::Free => "free",
            SkipReason::Title => "title",
            SkipReason::Declined => "declined",
            SkipReason::NoExternalAttendee => "no_external_attendee",
        }
    }
}

/// Why no decision could be made.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The event cannot be mapped to a record (permanent for this version of the event).
    #[error("the event cannot be mapped")]
    Mapping(#[source] MappingError),
    /// Reading the grant's calendars or address from Nylas failed.
    #[error("reading the grant's calendars or address from Nylas failed")]
    Nylas(#[source] NylasError),
}

impl PolicyError {
    /// What to do about it.
    pub fn retry(&self) -> Retry {
        match self {
            PolicyError::Mapping(_) => Retry::Permanent,
            PolicyError::Nylas(error) => error.retry(),
        }
    }
}

/// The settings the policy follows (from `[sync]` and `[filter]`).
#[derive(Debug, Clone)]
pub struct PolicySettings {
    /// `sync.private_events`: what a private event's record keeps.
    pub private_events: PrivateEvents,
    /// `sync.calendars`: which calendars are synced.
    pub calendars: CalendarSelection,
    /// `sync.exclude_read_only_calendars`.
    pub exclude_read_only_calendars: bool,
    /// `sync.internal_domains`: the company's own email domains.
    pub internal_domains: Vec<String>,
    /// `[filter]`: the relevance filters.
    pub filter: FilterSettings,
    /// `crm.owner`: whose meeting it is.
    pub owner: OwnerRule,
}

impl Default for PolicySettings {
    /// The defaults of `[sync]` and `[filter]`.
    fn default() -> Self {
        let sync = crate::config::SyncSettings::default();
        PolicySettings {
            private_events: sync.private_events,
            calendars: sync.calendars,
            exclude_read_only_calendars: sync.exclude_read_only_calendars,
            internal_domains: sync.internal_domains,
            filter: FilterSettings::default(),
            owner: OwnerRule::default(),
        }
    }
}

impl PolicySettings {
    /// The policy the settings describe.
    pub fn from_settings(settings: &Settings) -> Self {
        PolicySettings {
            private_events: settings.sync.private_events,
            calendars: settings.sync.calendars,
            exclude_read_only_calendars: settings.sync.exclude_read_only_calendars,
            internal_domains: settings.sync.internal_domains.clone(),
            filter: settings.filter.clone(),
            owner: settings.crm.owner(),
        }
    }
}

/// Decides what reaches the CRM. Cheap to share (`Arc`); its caches are shared by all workers.
pub struct Policy {
    settings: PolicySettings,
    nylas: NylasClient,
    calendars: CalendarDirectory,
    grants: GrantDirectory,
    metrics: Arc<Metrics>,
}

impl Policy {
    /// A policy reading calendar and grant metadata through `nylas` (cached).
    pub fn new(settings: PolicySettings, nylas: NylasClient, metrics: Arc<Metrics>) -> Self {
        Policy {
            settings,
            nylas: nylas.clone(),
            calendars: CalendarDirectory::new(nylas.clone(), calendars::CALENDARS_TTL),
            grants: GrantDirectory::new(nylas.clone(), crate::nylas::directory::DEFAULT_TTL),
            metrics,
        }
    }

    /// The grant directory the policy asks (shared with whoever needs grant addresses).
    pub fn grants(&self) -> &GrantDirectory {
        &self.grants
    }

    /// Decides what to do with `event`, read through `grant_id` from `source`; a removal is
    /// counted and logged here.
    pub async fn decide(
        &self,
        event: &Event,
        grant_id: &str,
        source: Source,
    ) -> Result<Decision, PolicyError> {
        let decision = self.evaluate(event, grant_id, source).await?;
        if let Decision::Remove(reason) = decision {
            self.metrics.event_filtered(reason.as_str());
            tracing::debug!(
                reason = reason.as_str(),
                "The event is not written to the CRM (policy)."
            );
        }
        Ok(decision)
    }

    /// What [`Policy::decide`] would answer, without counting or logging a removal: for a
    /// caller that only asks whether a write would change anything (backfill's skip of
    /// unchanged events), so a filtered event is counted once, by the write path.
    pub async fn preview(
        &self,
        event: &Event,
        grant_id: &str,
        source: Source,
    ) -> Result<Decision, PolicyError> {
        self.evaluate(event, grant_id, source).await
    }

    async fn evaluate(
        &self,
        event: &Event,
        grant_id: &str,
        source: Source,
    ) -> Result<Decision, PolicyError> {
        let settings = &self.settings;
        let grant = event
            .grant_id
            .as_deref()
            .filter(|id| !id.trim().is_empty())
            .unwrap_or(grant_id);
        let selection = match source {
            Source::SelectedCalendars => None,
            Source::AnyCalendar => calendars::check_selection(
                &self.calendars,
                settings.calendars,
                settings.exclude_read_only_calendars,
                grant,
                event.calendar_id.as_deref(),
            )
            .await
            .map_err(PolicyError::Nylas)?,
        };
        if let Some(reason) = selection {
            return Ok(Decision::Remove(reason));
        }
        let mut record = mapping::map_event(event, grant_id).map_err(PolicyError::Mapping)?;
        if let Some(reason) = relevance::event_filters(&settings.filter, event, &record) {
            return Ok(Decision::Remove(reason));
        }
        // Rooms first: a redacted private meeting must not get its room back as a location.
        rooms::set_rooms_aside(event, &mut record);
        if privacy::is_private(event) {
            match settings.private_events {
                PrivateEvents::Skip => return Ok(Decision::Remove(SkipReason::Private)),
                PrivateEvents::Redact => privacy::redact(&mut record),
                PrivateEvents::Sync => {}
            }
        }
        let filter = &settings.filter;
        // The organizer is a colleague by configuration alone: no need to know the grant.
        let organizer_internal = record
            .organizer_email
            .as_deref()
            .is_some_and(|email| is_internal(email, &settings.internal_domains));
        let needs_grant = filter.skip_declined
            || filter.require_external_attendee
            || settings.owner == OwnerRule::Grant
            || (settings.owner == OwnerRule::Organizer && !organizer_internal);
        let owner = match needs_grant {
            true => self.grant_email(grant).await?,
            false => None,
        };
        if filter.skip_declined
            && let Some(owner) = owner.as_deref()
            && relevance::declined_by_owner(event, owner)
        {
            return Ok(Decision::Remove(SkipReason::Declined));
        }
        if filter.require_external_attendee
            && !relevance::has_external_attendee(
                &record,
                &settings.internal_domains,
                owner.as_deref(),
            )
        {
            return Ok(Decision::Remove(SkipReason::NoExternalAttendee));
        }
        record.owner_email = ownership::owner_email(
            settings.owner,
            &record,
            &settings.internal_domains,
            owner.as_deref(),
        );
        Ok(Decision::Write(Box::new(record)))
    }

    /// The grant's address (cached). When the shared lookup fails, this caller asks once more on
    /// its own, so the error it returns is its own (with its status, for the worker).
    async fn grant_email(&self, grant_id: &str) -> Result<Option<String>, PolicyError> {
        match self.grants.email(grant_id).await {
            Ok(email) => Ok(email),
            Err(_) => {
                let grant = self
                    .nylas
                    .get_grant(grant_id)
                    .await
                    .map_err(PolicyError::Nylas)?;
                let email = grant.and_then(|grant| grant.email);
                self.grants.remember(grant_id, email.as_deref()).await;
                Ok(email
                    .map(|email| email.trim().to_lowercase())
                    .filter(|email| !email.is_empty()))
            }
        }
    }
}
