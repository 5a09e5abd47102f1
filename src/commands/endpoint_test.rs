//! `calsync webhook test`: proves a deployment end to end with a real event. It signs an
//! `event.updated` notification for the event with the configured webhook secret — exactly as
//! Nylas would — POSTs it to the public webhook URL, reports the answer, and then, when the
//! deployment's store can be read from here, follows the job until it synced (and to which CRM
//! record) or failed.
//!
//! Choices, and why:
//! - **The event**: `--event ID --grant ID` (read from its `--calendar`, default `primary`), or
//!   else the most recently updated event of a grant (`--grant`, else the first valid grant of
//!   the application) in its primary calendar, listed through the Nylas client over the window
//!   [`LOOK_BACK_DAYS`] before now to [`LOOK_AHEAD_DAYS`] after.
//! - **The URL**: `--url`, or else the URL of the one Nylas webhook that delivers event
//!   notifications — the address Nylas itself posts to, so the test covers DNS, TLS, the proxy
//!   and the path, and needs no configuration key that could drift from the subscription. With
//!   none or several such webhooks, `--url` is required.
//! - **The secret**: the first of `nylas.webhook_secrets`: the daemon must accept it.
//!
//! Invariants: nothing is written anywhere but to the webhook URL (the store is opened
//! read-only, [`crate::store::open_existing`]); redirects are never followed (Nylas does not follow
//! them either); the secret is never printed; the wait for the job is bounded.

mod delivery;
mod event;
mod follow;

use std::io::Write;
use std::time::Duration;

use jiff::Timestamp;
use secrecy::ExposeSecret;
use url::Url;

use crate::background::subscription_monitor::Assessment;
use crate::config::Settings;
use crate::ids::{EventId, NotificationId};
use crate::nylas::{NylasClient, NylasError};
use crate::store::StoreError;

pub use follow::Synced;

use follow::Follower;

/// How many days back the newest event is looked for.
pub const LOOK_BACK_DAYS: i64 = 30;
/// How many days ahead the newest event is looked for.
pub const LOOK_AHEAD_DAYS: i64 = 365;
/// The most event pages read to find the newest event.
const MAX_PAGES: usize = 10;
/// How long the POST may take (Nylas gives up after 10 s).
const POST_TIMEOUT: Duration = Duration::from_secs(15);

/// `webhook test` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestArgs {
    /// The event to use (with `grant`); else the newest event.
    pub event: Option<String>,
    /// The event's grant; else the first valid grant.
    pub grant: Option<String>,
    /// The calendar to read from; default `primary` for `--event`, the primary calendar else.
    pub calendar: Option<String>,
    /// Where to post; else the webhook URL Nylas delivers event notifications to.
    pub url: Option<Url>,
    /// How long to follow the job in the store.
    pub wait: Duration,
}

/// Why the test could not run (as opposed to a test that ran and failed: [`TestReport`]).
#[derive(Debug, thiserror::Error)]
pub enum EndpointTestError {
    /// No webhook secret is configured to sign the notification with.
    #[error(
        "no webhook secret is configured (nylas.webhook_secrets, or NYLAS_WEBHOOK_SECRET): set the one calsync webhook create printed"
    )]
    NoSecret,
    /// `--event` was given without `--grant`.
    #[error("--event needs --grant: an event id names an event only within its grant")]
    EventWithoutGrant,
    /// No webhook delivers event notifications and no `--url` was given.
    #[error(
        "no Nylas webhook delivers event notifications: pass --url https://<host>/webhooks/nylas"
    )]
    NoEndpointUrl,
    /// Several webhooks deliver event notifications (their URLs) and no `--url` was given.
    #[error(
        "several Nylas webhooks deliver event notifications ({0}): pass --url with the one to test"
    )]
    SeveralEndpointUrls(String),
    /// The application has no valid grant to take an event from.
    #[error("no grant of the application is valid: connect a calendar first")]
    NoGrant,
    /// The grant (its id) has no calendar.
    #[error("grant {0} has no calendar")]
    NoCalendar(String),
    /// The calendar has no event in the window looked at.
    #[error(
        "calendar {calendar} of grant {grant} has no event from {start} to {end}: create one, or pass --event ID --grant ID"
    )]
    NoEvent {
        /// The grant looked at.
        grant: String,
        /// The calendar looked at.
        calendar: String,
        /// The start of the window looked at.
        start: Timestamp,
        /// The end of the window looked at.
        end: Timestamp,
    },
    /// The event named by `--event` is not in the calendar.
    #[error("event {event} of grant {grant} is not in calendar {calendar} (pass its --calendar)")]
    EventNotFound {
        /// The event id given.
        event: String,
        /// The grant given.
        grant: String,
        /// The calendar looked in.
        calendar: String,
    },
    /// A Nylas call failed.
    #[error("could not {action}")]
    Nylas {
        /// What was being done (`list the webhooks`, …).
        action: &'static str,
        /// Nylas's error.
        #[source]
        source: NylasError,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// The deployment's store could not be read.
    #[error("reading the store failed")]
    Store(#[from] StoreError),
    /// The CRM adapter (for the target's name) could not be built.
    #[error("the CRM adapter cannot be built")]
    Crm(#[source] crate::crm::CrmError),
    /// The output could not be written.
    #[error("cannot write the command's output")]
    Output(#[source] std::io::Error),
}

impl EndpointTestError {
    /// True for a configuration or usage problem (the CLI exits 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            EndpointTestError::NoSecret
                | EndpointTestError::EventWithoutGrant
                | EndpointTestError::NoEndpointUrl
                | EndpointTestError::SeveralEndpointUrls(_)
        )
    }
}

fn nylas(action: &'static str) -> impl FnOnce(NylasError) -> EndpointTestError {
    move |source| EndpointTestError::Nylas { action, source }
}

fn output(error: std::io::Error) -> EndpointTestError {
    EndpointTestError::Output(error)
}

/// The daemon's answer to the POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// It answered with this status.
    Answered(u16),
    /// No answer (connection refused, DNS, TLS, timeout), with the reason.
    Unreachable(String),
}

/// What the test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    /// The event used.
    pub event_id: String,
    /// The notification id posted.
    pub notification_id: String,
    /// The daemon's answer to the POST.
    pub delivery: Delivery,
    /// What became of the job, when the store could be read from here.
    pub synced: Option<Synced>,
}

impl TestReport {
    /// True when the daemon stored the notification and, where it could be followed, the job
    /// synced.
    pub fn passed(&self) -> bool {
        self.delivery == Delivery::Answered(200)
            && self.synced.as_ref().is_none_or(Synced::succeeded)
    }
}

/// Runs the test, writing what it does to `out`.
pub async fn run(
    settings: &Settings,
    nylas: &NylasClient,
    args: &TestArgs,
    out: &mut impl Write,
) -> Result<TestReport, EndpointTestError> {
    let secret = settings
        .nylas
        .webhook_secrets
        .first()
        .ok_or(EndpointTestError::NoSecret)?;
    let url = match &args.url {
        Some(url) => url.clone(),
        None => webhook_url(nylas, out).await?,
    };
    let event = event::choose_event(nylas, args, out).await?;
    let clock = nylas.clock();
    let follower = Follower::open(settings, clock, out).await?;
    let before = match &follower {
        Some(follower) => follower.state(&EventId::from(event.id.as_str())).await?,
        None => None,
    };
    let notification_id = format!("calsync-webhook-test-{}", uuid::Uuid::new_v4().simple());
    let body = delivery::notification(&event, &notification_id, clock.now())?;
    writeln!(
        out,
        "Posting a signed event.updated notification ({notification_id}) to {url}."
    )
    .map_err(output)?;
    let sent_at = clock.now();
    let delivery = delivery::post(&url, secret.expose_secret(), body, out).await?;
    let mut report = TestReport {
        event_id: event.id.clone(),
        notification_id,
        delivery,
        synced: None,
    };
    if let Some(follower) = follower {
        if report.delivery == Delivery::Answered(200) {
            let event_id = EventId::from(report.event_id.as_str());
            let notification_id = NotificationId::from(report.notification_id.as_str());
            let followed =
                follower.follow(&event_id, &notification_id, before, sent_at, args.wait, out);
            report.synced = Some(followed.await?);
        } else {
            follower.close().await;
        }
    }
    let verdict = if report.passed() {
        "Webhook test passed."
    } else {
        "Webhook test failed."
    };
    writeln!(out, "{verdict}").map_err(output)?;
    Ok(report)
}

/// The URL of the one webhook delivering event notifications.
async fn webhook_url(nylas: &NylasClient, out: &mut impl Write) -> Result<Url, EndpointTestError> {
    let subscriptions = nylas
        .list_subscriptions()
        .await
        .map_err(self::nylas("list the webhooks"))?;
    let watched = Assessment::of(subscriptions).watched;
    let mut urls: Vec<(&str, &str)> = watched
        .iter()
        .filter_map(|subscription| Some((subscription.url.as_deref()?, subscription.id.as_str())))
        .collect();
    urls.sort_unstable();
    urls.dedup_by(|a, b| a.0 == b.0);
    match urls[..] {
        [] => Err(EndpointTestError::NoEndpointUrl),
        [(url, id)] => {
            let parsed = Url::parse(url).map_err(|_| EndpointTestError::NoEndpointUrl)?;
            writeln!(
                out,
                "URL: {url}, where webhook {id} delivers event notifications."
            )
            .map_err(output)?;
            Ok(parsed)
        }
        _ => {
            let listed: Vec<&str> = urls.iter().map(|(url, _)| *url).collect();
            Err(EndpointTestError::SeveralEndpointUrls(listed.join(", ")))
        }
    }
}
