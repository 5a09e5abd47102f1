//! The webhook-subscription monitor: while serving, calsync asks Nylas every few minutes for the
//! status of the webhook subscriptions that deliver event notifications, because a subscription
//! that Nylas marks `failed` silently stops all notifications (nylas.md, "Webhook status").
//!
//! A subscription is *watched* when it has at least one `event.*` trigger calsync handles. Each
//! check sets the `calsync_webhooks{status}` gauge from the watched subscriptions and logs:
//! an error for each one `failing` or `failed` (saying what it means and what to do), a warning
//! for one paused, and a warning when none is watched at all.
//!
//! Invariants: only one replica checks at a time (the store's named lock [`LOCK`], renewed by
//! the holder at each check, released when it stops cleanly and expiring after [`lock_ttl`]
//! when it dies); a replica that does not hold the lock reports zero for every status, so the
//! sum over replicas is the holder's count; a failed check is logged and retried at the next
//! tick, never fatal; the monitor only reads (it never re-activates a subscription).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::nylas::NylasClient;
use crate::nylas::client::{NylasError, Subscription};
use crate::store::{Store, StoreError};
use crate::telemetry::metrics::Metrics;

/// How often the webhooks' status is checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(5 * 60);

/// The name of the store lock that elects the replica running the checks.
pub const LOCK: &str = "webhook-monitor";

/// The event triggers calsync consumes; a subscription with any of them is watched.
pub const EVENT_TRIGGERS: [&str; 3] = ["event.created", "event.updated", "event.deleted"];

/// How long the monitor lock outlives a check: two periods and a margin, so a live holder always
/// renews it in time and a stopped one hands over within minutes.
pub fn lock_ttl(every: Duration) -> Duration {
    every.saturating_mul(2) + Duration::from_secs(30)
}

/// Why a check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The store lock that keeps the check on one replica could not be taken.
    #[error("could not take the {LOCK} lock")]
    Lock(#[source] StoreError),
    /// Nylas could not list the webhooks.
    #[error("could not list the Nylas webhooks")]
    Nylas(#[source] NylasError),
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The watched subscriptions (those delivering event notifications).
    pub watched: Vec<Subscription>,
    /// Watched subscriptions per status (`unknown` when Nylas gave none).
    pub counts: BTreeMap<String, u64>,
}

impl Assessment {
    /// Sorts the listed subscriptions into watched ones and counts them by status.
    pub fn of(subscriptions: Vec<Subscription>) -> Self {
        let watched: Vec<Subscription> = subscriptions.into_iter().filter(is_watched).collect();
        let mut counts = BTreeMap::new();
        for subscription in &watched {
            *counts
                .entry(status_of(subscription).to_string())
                .or_insert(0) += 1;
        }
        Assessment { watched, counts }
    }

    /// Watched subscriptions that are `failing` or `failed`.
    pub fn unhealthy(&self) -> impl Iterator<Item = &Subscription> {
        self.watched
            .iter()
            .filter(|subscription| matches!(status_of(subscription), "failing" | "failed"))
    }

    /// True when at least one watched subscription is `active` and none is failing or failed.
    pub fn healthy(&self) -> bool {
        self.unhealthy().next().is_none() && self.counts.contains_key("active")
    }
}

/// Whether a subscription delivers event notifications calsync handles.
pub fn is_watched(subscription: &Subscription) -> bool {
    subscription
        .trigger_types
        .iter()
        .any(|trigger| EVENT_TRIGGERS.contains(&trigger.as_str()))
}

/// A subscription's status, `unknown` when absent.
pub fn status_of(subscription: &Subscription) -> &str {
    subscription.status.as_deref().unwrap_or("unknown")
}

/// What an unhealthy status means for calsync and what the operator does about it.
pub fn explain(status: &str) -> &'static str {
    match status {
        "failing" => {
            "Nylas is getting errors from this URL (95% of deliveries over 15 minutes) and will mark the webhook failed after 72 hours of it, after which it sends nothing. Check that calsync serve is reachable at the URL over HTTPS and that its secret is configured."
        }
        "failed" => {
            "Nylas has stopped sending notifications to this webhook; changes made while it is failed are never sent. Fix the cause, set the webhook active again (Nylas Dashboard, or PUT /v3/webhooks/{id} with status active), then re-read the gap from the Events API (backfill or reconciliation)."
        }
        "pause" => {
            "The webhook is paused: Nylas sends nothing until it is set active again, and changes made meanwhile must be re-read from the Events API."
        }
        _ => "The webhook is not active.",
    }
}

/// Checks the webhooks' status on a schedule.
pub struct SubscriptionMonitor {
    nylas: NylasClient,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    clock: Clock,
    /// This process's name in the lock.
    owner: String,
    every: Duration,
}

impl SubscriptionMonitor {
    /// A monitor checking every `every`, as lock owner `owner`.
    pub fn new(
        nylas: NylasClient,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        clock: Clock,
        owner: String,
        every: Duration,
    ) -> Self {
        SubscriptionMonitor {
            nylas,
            store,
            metrics,
            clock,
            owner,
            every: every.max(Duration::from_millis(1)),
        }
    }

    /// One check: takes or renews the lock, lists the webhooks, sets the gauge and logs what is
    /// wrong. `None` when another replica holds the lock (nothing was checked).
    pub async fn check_once(&self) -> Result<Option<Assessment>, MonitorError> {
        let now = self.clock.now();
        let held = self
            .store
            .try_lock(LOCK, &self.owner, now, lock_ttl(self.every))
            .await
            .map_err(MonitorError::Lock)?;
        if !held {
            tracing::debug!("Another replica checks the Nylas webhooks' status.");
            self.metrics.set_subscriptions([]);
            return Ok(None);
        }
        let subscriptions = self
            .nylas
            .list_subscriptions()
            .await
            .map_err(MonitorError::Nylas)?;
        let assessment = Assessment::of(subscriptions);
        self.metrics.set_subscriptions(
            assessment
                .counts
                .iter()
                .map(|(status, count)| (status.as_str(), *count)),
        );
        report(&assessment);
        Ok(Some(assessment))
    }

    /// Checks now, then every `every`, until `stop` is cancelled; then releases the lock.
    pub async fn run(self, stop: CancellationToken) {
        super::periodic::every(self.every, &stop, || async {
            if let Err(error) = self.check_once().await {
                tracing::warn!(error = %crate::cause::Chain(&error), "Could not check the Nylas webhooks' status; trying again at the next check.");
            }
        })
        .await;
        super::periodic::release_lock(self.store.as_ref(), LOCK, &self.owner).await;
    }
}

/// Logs what a check found.
fn report(assessment: &Assessment) {
    if assessment.watched.is_empty() {
        tracing::warn!(
            "No Nylas webhook delivers event notifications to this application: calsync receives none. Create one with `calsync webhook create --url https://<host>/webhooks/nylas`."
        );
        return;
    }
    for subscription in &assessment.watched {
        let status = status_of(subscription);
        let url = subscription.url.as_deref().unwrap_or("");
        match status {
            "active" => tracing::debug!(
                webhook.id = %subscription.id,
                webhook.url = url,
                "The Nylas webhook is active."
            ),
            "failing" | "failed" => tracing::error!(
                webhook.id = %subscription.id,
                webhook.url = url,
                webhook.status = status,
                "The Nylas webhook is {status}: {}",
                explain(status)
            ),
            _ => tracing::warn!(
                webhook.id = %subscription.id,
                webhook.url = url,
                webhook.status = status,
                "The Nylas webhook is not active ({status}): {}",
                explain(status)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(id: &str, status: Option<&str>, triggers: &[&str]) -> Subscription {
        Subscription {
            id: id.to_string(),
            url: Some(format!("https://calsync.example.com/{id}")),
            status: status.map(str::to_string),
            trigger_types: triggers.iter().map(|t| t.to_string()).collect(),
            description: None,
            notification_email_addresses: Vec::new(),
        }
    }

    #[test]
    fn only_subscriptions_with_event_triggers_are_watched_and_counted() {
        let assessment = Assessment::of(vec![
            subscription("a", Some("active"), &["event.created", "grant.expired"]),
            subscription("b", Some("failing"), &["event.deleted"]),
            subscription("c", Some("failed"), &["message.created"]),
            subscription("d", None, &["event.updated"]),
        ]);
        let ids: Vec<&str> = assessment.watched.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "d"]);
        assert_eq!(
            assessment.counts,
            BTreeMap::from([
                ("active".to_string(), 1),
                ("failing".to_string(), 1),
                ("unknown".to_string(), 1)
            ])
        );
        let unhealthy: Vec<&str> = assessment.unhealthy().map(|w| w.id.as_str()).collect();
        assert_eq!(unhealthy, ["b"]);
        assert!(!assessment.healthy());
    }

    #[test]
    fn healthy_needs_an_active_subscription_and_none_failing() {
        assert!(
            Assessment::of(vec![subscription("a", Some("active"), &["event.updated"])]).healthy()
        );
        assert!(!Assessment::of(vec![]).healthy());
        assert!(
            !Assessment::of(vec![subscription("a", Some("pause"), &["event.updated"])]).healthy()
        );
    }

    #[test]
    fn the_lock_outlives_two_checks() {
        assert_eq!(lock_ttl(CHECK_EVERY), Duration::from_secs(630));
    }
}
