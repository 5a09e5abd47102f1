//! Following the test notification's job in the deployment's store, read-only: first the
//! notification in the log (proof the daemon posted to stores here), then the event's job
//! until it is gone, then its outcome — a dead letter, or the sync state of the configured CRM
//! target compared with the state before the test.
//!
//! Invariants: the store is opened with [`store::open_existing`] (nothing created, migrated or
//! written) and closed before returning; polling stops at the deadline (a CLI may poll; the
//! daemon never does); a dead letter or a write counts only when it is not older than the test
//! (less a small allowance for clock skew between this machine and the daemon's).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use secrecy::ExposeSecret;

use super::{EndpointTestError, output};
use crate::clock::Clock;
use crate::config::Settings;
use crate::crm::{self, CrmAdapter};
use crate::ids::{CrmRecordId, EventId, NotificationId, TargetId};
use crate::store::MeetingLedger;
use crate::store::{self, NotificationFilter, QueuedJob, Store, SyncState};
use crate::telemetry::metrics::Metrics;

/// How often the store is read while waiting.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// How much earlier than the test a write or a dead letter may be stamped and still be the
/// test's (the daemon's clock may lag this machine's).
const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(5);

/// What became of the test notification's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synced {
    /// The record was created or changed in the CRM.
    Written {
        /// The CRM's id of the record.
        crm_record_id: CrmRecordId,
    },
    /// The record already held this content: no CRM write was needed.
    Unchanged {
        /// The CRM's id of the record.
        crm_record_id: CrmRecordId,
    },
    /// Nylas no longer returns the event: its record (if any) is soft-deleted.
    Deleted,
    /// The job failed for good; the dead letter's error.
    DeadLettered {
        /// The dead letter's last error.
        error: String,
    },
    /// The job had not finished when the wait ended; its state then.
    NotYet {
        /// Where the job stood, in words.
        state: String,
    },
    /// The notification never showed up in this store: the daemon uses another one.
    NotInStore,
    /// The job finished, but this store holds no record of the event for the CRM configured
    /// here (the daemon writes to another target, or the event maps to no record).
    NoRecord {
        /// The CRM target configured here.
        target: String,
    },
}

impl Synced {
    /// True when the event is in step in the CRM.
    pub fn succeeded(&self) -> bool {
        matches!(
            self,
            Synced::Written { .. } | Synced::Unchanged { .. } | Synced::Deleted
        )
    }
}

/// The deployment's store, open read-only, and the CRM target whose state to read.
pub(super) struct Follower {
    /// The time source every "since" and "still leased" is read against.
    clock: Clock,
    store: Arc<dyn Store>,
    target: String,
    url: String,
}

impl Follower {
    /// Opens the store `store.url` names, if it can be read from here (else says why and
    /// returns `None`: the test then ends with the daemon's answer).
    pub(super) async fn open(
        settings: &Settings,
        clock: Clock,
        out: &mut impl Write,
    ) -> Result<Option<Follower>, EndpointTestError> {
        let url = store::redact_url(settings.store.url.expose_secret());
        let store = match store::open_existing(settings.store.url.expose_secret()).await {
            Ok(store) => store,
            Err(error) => {
                writeln!(
                    out,
                    "The job will not be followed: the store {url} cannot be read from here ({error})."
                )
                .map_err(output)?;
                return Ok(None);
            }
        };
        let transport = crm::transport::CrmTransport::new(
            reqwest::Client::new(),
            settings.crm.kind(),
            0,
            Arc::new(Metrics::new()),
        )
        .with_clock(clock);
        let adapter: Arc<dyn CrmAdapter> = match crm::build(settings, transport) {
            Ok(adapter) => adapter,
            Err(error) => {
                store.close().await;
                return Err(EndpointTestError::Crm(error));
            }
        };
        Ok(Some(Follower {
            clock,
            store,
            target: adapter.target().to_string(),
            url,
        }))
    }

    /// Closes the store without following anything.
    pub(super) async fn close(self) {
        self.store.close().await;
    }

    /// The sync state of the event's meeting record before the test.
    pub(super) async fn state(
        &self,
        event_id: &EventId,
    ) -> Result<Option<SyncState>, EndpointTestError> {
        let record_key = self.record_key(event_id).await?;
        let target = TargetId::from(self.target.as_str());
        Ok(self.store.load_state(&target, &record_key).await?)
    }

    /// The record key of the event's meeting: the event id of the meeting's first copy, which
    /// is this event's id unless another connected calendar's copy came first.
    async fn record_key(&self, event_id: &EventId) -> Result<EventId, EndpointTestError> {
        let ledger: &dyn MeetingLedger = &*self.store;
        let copies = ledger.copies_of_event(event_id).await?;
        let Some(copy) = copies.first() else {
            return Ok(event_id.clone());
        };
        let bound = ledger.record_key(&copy.meeting_key).await?;
        Ok(bound.unwrap_or_else(|| event_id.clone()))
    }

    /// Waits (at most `wait`) for the job of `event_id` caused by notification `id`, and reports
    /// its outcome; closes the store.
    pub(super) async fn follow(
        self,
        event_id: &EventId,
        id: &NotificationId,
        before: Option<SyncState>,
        sent_at: Timestamp,
        wait: Duration,
        out: &mut impl Write,
    ) -> Result<Synced, EndpointTestError> {
        writeln!(
            out,
            "Following the job in the store {} (for up to {}s)…",
            self.url,
            wait.as_secs()
        )
        .map_err(output)?;
        let watched = self.watch(event_id, id, before, sent_at, wait).await;
        self.store.close().await;
        let synced = watched?;
        writeln!(out, "{}", describe(&synced, &self.target)).map_err(output)?;
        Ok(synced)
    }

    async fn watch(
        &self,
        event_id: &EventId,
        id: &NotificationId,
        before: Option<SyncState>,
        sent_at: Timestamp,
        wait: Duration,
    ) -> Result<Synced, EndpointTestError> {
        let since = sent_at - CLOCK_SKEW;
        let deadline = tokio::time::Instant::now() + wait;
        let mut poll = tokio::time::interval(POLL_EVERY);
        let mut logged = false;
        let mut waiting = String::new();
        loop {
            poll.tick().await;
            logged = logged || self.logged(event_id, id, since).await?;
            if logged {
                let entry = self.store.queue_entry(event_id).await?;
                match entry.job {
                    Some(job) => {
                        waiting = job_state(&job, self.store.as_ref(), self.clock.now()).await?
                    }
                    None => {
                        if let Some(letter) = entry.dead_letter.filter(|l| l.dead_at >= since) {
                            return Ok(Synced::DeadLettered {
                                error: letter.last_error,
                            });
                        }
                        let after = self.state(event_id).await?;
                        return Ok(outcome(before.as_ref(), after, &self.target));
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(if logged {
                    Synced::NotYet { state: waiting }
                } else {
                    Synced::NotInStore
                });
            }
        }
    }

    /// Whether the notification log holds notification `id`.
    async fn logged(
        &self,
        event_id: &EventId,
        id: &NotificationId,
        since: Timestamp,
    ) -> Result<bool, EndpointTestError> {
        let filter = NotificationFilter {
            since: Some(since - SignedDuration::from_mins(5)),
            until: None,
            event_id: Some(event_id.clone()),
        };
        let logged = self.store.list_notifications(&filter).await?;
        Ok(logged.iter().any(|notification| notification.id == *id))
    }
}

/// Where a job stands, in words.
async fn job_state(
    job: &QueuedJob,
    store: &dyn Store,
    now: Timestamp,
) -> Result<String, EndpointTestError> {
    let grant = &job.request.grant_id;
    match store.grant_status(grant).await? {
        store::GrantStatus::Active => {}
        store::GrantStatus::Paused { since } => {
            return Ok(format!(
                "waiting: calsync paused grant {grant} at {since} (it expired), so its jobs wait until Nylas reports it re-authenticated"
            ));
        }
        store::GrantStatus::Deleted { at } => {
            return Ok(format!(
                "waiting: grant {grant} was deleted at {at}, so its jobs never run"
            ));
        }
    }
    let leased = job.leased_until.is_some_and(|until| until > now);
    Ok(match (&job.last_error, leased) {
        (_, true) => "in flight: a worker holds it".to_owned(),
        (Some(error), false) => format!(
            "retrying after {} failed attempt(s), next at {}: {error}",
            job.attempts, job.next_attempt_at
        ),
        (None, false) => {
            "pending: no worker has taken it yet (is calsync serve running?)".to_owned()
        }
    })
}

/// The outcome from the state before and after the job.
fn outcome(before: Option<&SyncState>, after: Option<SyncState>, target: &str) -> Synced {
    let Some(after) = after else {
        return Synced::NoRecord {
            target: target.to_owned(),
        };
    };
    if after.tombstone {
        return Synced::Deleted;
    }
    let Some(crm_record_id) = after.crm_record_id.clone() else {
        return Synced::NoRecord {
            target: target.to_owned(),
        };
    };
    let same = before.is_some_and(|before| {
        before.crm_record_id == after.crm_record_id
            && before.content_hash == after.content_hash
            && !before.tombstone
    });
    if same {
        Synced::Unchanged { crm_record_id }
    } else {
        Synced::Written { crm_record_id }
    }
}

fn describe(synced: &Synced, target: &str) -> String {
    match synced {
        Synced::Written { crm_record_id } => {
            format!("Synced: CRM record {crm_record_id} ({target}) was written.")
        }
        Synced::Unchanged { crm_record_id } => format!(
            "Synced: CRM record {crm_record_id} ({target}) already held this content, so nothing was written."
        ),
        Synced::Deleted => {
            "Synced: Nylas no longer returns the event, so its record is soft-deleted.".to_owned()
        }
        Synced::DeadLettered { error } => format!(
            "Failed: the job became a dead letter: {error} (calsync dlq list; calsync dlq retry after fixing the cause)."
        ),
        Synced::NotYet { state } => format!("Not synced yet when the wait ended: the job is {state}."),
        Synced::NotInStore => "The notification did not appear in this store: the daemon at that URL stores into another one (compare store.url here and there).".to_owned(),
        Synced::NoRecord { target } => format!(
            "The job finished, but this store holds no record of the event for {target}: the daemon writes to another CRM target, or the event maps to no record."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: Option<&str>, hash: &str, tombstone: bool) -> SyncState {
        SyncState {
            crm_record_id: id.map(CrmRecordId::from),
            content_hash: Some(hash.to_owned()),
            tombstone,
            ..SyncState::default()
        }
    }

    #[test]
    fn the_outcome_compares_the_state_before_and_after() {
        let t = "rest:https://crm.example.com/api/meetings";
        let written = Synced::Written {
            crm_record_id: "c1".into(),
        };
        assert_eq!(
            outcome(None, Some(state(Some("c1"), "h", false)), t),
            written
        );
        let before = state(Some("c1"), "h", false);
        assert_eq!(
            outcome(Some(&before), Some(state(Some("c1"), "h2", false)), t),
            written
        );
        assert_eq!(
            outcome(Some(&before), Some(before.clone()), t),
            Synced::Unchanged {
                crm_record_id: "c1".into()
            }
        );
        assert_eq!(
            outcome(Some(&before), Some(state(Some("c1"), "h", true)), t),
            Synced::Deleted
        );
        assert!(matches!(outcome(None, None, t), Synced::NoRecord { .. }));
        assert!(!Synced::NotInStore.succeeded());
    }
}
