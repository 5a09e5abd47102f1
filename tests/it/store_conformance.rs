//! The store conformance suite: one set of behaviour tests written against `Arc<dyn Store>`, run
//! against every backend (conventions item 5).
//!
//! Each case is a function `async fn case(backend: Backend)` in a submodule; [`cases!`] turns the
//! list of cases into one `#[tokio::test]` per backend. Adding a backend means adding a factory
//! returning `Option<Backend>` (`None` skips, e.g. Postgres without `CALSYNC_TEST_POSTGRES_URL`)
//! and one `cases!(name => factory)` line. Time is always passed explicitly: no sleeps.
//!
//! [`healing`] checks that a store recovers by itself from failed commits. [`races`] adds
//! PostgreSQL-only cases that one SQLite process cannot show: several store handles (separate
//! pools, like separate replicas) racing on one database. [`meetings`] covers the meeting
//! ledger, and the upgrade of a database written with the first schema. [`quiet_window`] covers
//! coalescing windows (a store opened with a [`calsync::store::QueuePolicy`]).

mod claims;
mod coalescing;
mod dead_letters;
mod healing;
mod ingest;
mod meetings;
mod queue;
mod quiet_window;
mod races;
mod records;
mod series;

use std::sync::Arc;
use std::time::Duration;

use calsync::store::{
    self, IncomingNotification, JobAction, JobRequest, JobSource, PayloadOrigin, Store,
};
use jiff::Timestamp;
use serde_json::json;

use crate::support::postgres::TestDatabase;

/// A fresh, empty store of one backend, and how to reach it again.
pub struct Backend {
    pub store: Arc<dyn Store>,
    /// The URL it was opened with (to reopen it, as after a restart).
    pub url: String,
    /// Keeps a temporary database directory alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
    /// Drops a temporary PostgreSQL database after the test (declared last: after the store).
    _database: Option<TestDatabase>,
}

/// SQLite: a new database file in a new temporary directory.
async fn sqlite_backend() -> Option<Backend> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("calsync.db").display());
    let store = store::open(&url).await.expect("open a SQLite store");
    assert_eq!(store.backend(), "sqlite");
    Some(Backend {
        store,
        url,
        _dir: Some(dir),
        _database: None,
    })
}

/// PostgreSQL: a new database on the `CALSYNC_TEST_POSTGRES_URL` server, dropped afterwards;
/// `None` (the test is skipped, and says so) when the variable is unset.
async fn postgres_backend() -> Option<Backend> {
    let database = TestDatabase::create().await?;
    let store = store::open(&database.url)
        .await
        .expect("open a PostgreSQL store");
    assert_eq!(store.backend(), "postgres");
    Some(Backend {
        store,
        url: database.url.clone(),
        _dir: None,
        _database: Some(database),
    })
}

/// One `#[tokio::test]` per case for one backend.
macro_rules! suite {
    ($backend:ident => $factory:ident; $($module:ident :: $case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(backend) = super::$factory().await else {
                        eprintln!("skipped: backend `{}` is not configured", stringify!($backend));
                        return;
                    };
                    super::$module::$case(backend).await;
                }
            )*
        }
    };
}

/// The list of cases, instantiated for one backend.
macro_rules! cases {
    ($backend:ident => $factory:ident) => {
        suite!($backend => $factory;
            ingest::stores_each_notification_id_once,
            ingest::duplicates_do_not_touch_jobs,
            ingest::jobs_round_trip_every_field,
            ingest::empty_batches_are_fine,
            ingest::enqueue_applies_jobs_without_notifications,
            ingest::wakeups_signal_new_and_released_work,
            ingest::a_large_batch_applies_every_job_in_order,
            ingest::one_key_repeated_in_a_batch_coalesces_in_order,
            coalescing::pending_job_is_replaced,
            coalescing::stale_upsert_is_dropped,
            coalescing::upsert_over_delete_forces_fetch,
            coalescing::delete_replaces_pending_upsert,
            coalescing::change_in_flight_requeues_on_complete,
            coalescing::change_in_flight_releases_on_retry,
            coalescing::change_in_flight_releases_on_dead_letter,
            coalescing::stale_upsert_in_flight_is_dropped,
            quiet_window::a_burst_waits_for_a_quiet_window,
            quiet_window::a_never_quiet_burst_is_due_at_the_maximum_delay,
            quiet_window::a_claim_ends_the_burst,
            quiet_window::a_retry_keeps_its_schedule,
            quiet_window::deletes_coalesce_too,
            quiet_window::listings_and_operator_retries_do_not_wait,
            quiet_window::a_dead_letter_retry_is_due_at_once,
            claims::claims_due_jobs_oldest_first_up_to_limit,
            claims::leased_job_is_exclusive_until_expiry,
            claims::lost_lease_changes_nothing,
            claims::claim_key_ignores_schedule_not_leases,
            claims::extend_lease_keeps_the_job,
            claims::retry_reschedules_and_counts_attempts,
            claims::release_makes_job_due_without_an_attempt,
            claims::complete_removes_the_job,
            dead_letters::dead_letter_moves_the_job,
            dead_letters::list_is_oldest_first_and_limited,
            dead_letters::retry_by_id_and_all,
            dead_letters::retry_coalesces_with_pending_jobs,
            queue::next_due_at_follows_schedules_and_leases,
            queue::job_stats_count_each_state,
            queue::queue_entry_shows_one_keys_job_and_newest_dead_letter,
            queue::an_existing_store_opens_read_only_and_unchanged,
            records::sync_state_round_trips,
            records::notifications_list_filters_and_prune,
            records::paused_grant_jobs_wait_until_resumed,
            records::deleted_grant_drops_and_refuses_jobs,
            records::explicit_grant_status_round_trips,
            records::cursors_are_named_values,
            records::try_lock_is_exclusive_until_expiry,
            records::a_released_lock_is_free_at_once,
            records::data_survives_reopening,
            healing::heals_after_failed_commits,
            series::series_occurrences_are_remembered_per_grant_and_master,
            series::a_complete_listing_forgets_what_is_gone_and_revives_a_deleted_series,
            series::series_behind_the_horizon_are_due_for_refresh,
            meetings::copies_round_trip_and_the_first_binds_the_record_key,
        );
    };
}

cases!(sqlite => sqlite_backend);
cases!(postgres => postgres_backend);

/// The suite's epoch (whole seconds, so every backend's precision holds it exactly).
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + seconds).expect("a valid timestamp")
}

/// The lease length the cases use.
pub const LEASE: Duration = Duration::from_secs(60);

/// An upsert request from a webhook, with a payload naming its version.
pub fn upsert(key: &str, version: i64) -> JobRequest {
    JobRequest {
        record_key: key.into(),
        grant_id: "grant-1".into(),
        calendar_id: Some("cal-1".into()),
        action: JobAction::Upsert,
        payload: Some(json!({ "id": key, "updated_at": version }).into()),
        origin: PayloadOrigin::NotificationComplete,
        version: Some(version),
        force_fetch: false,
        source: JobSource::Webhook,
        notification_id: Some(format!("notification-{key}-{version}").into()),
    }
}

/// A delete request from a webhook.
pub fn delete(key: &str) -> JobRequest {
    JobRequest {
        action: JobAction::Delete,
        payload: None,
        origin: PayloadOrigin::None,
        version: None,
        notification_id: Some(format!("notification-{key}-deleted").into()),
        ..upsert(key, 0)
    }
}

/// A notification carrying `job`.
pub fn notification(id: &str, job: Option<JobRequest>) -> IncomingNotification {
    IncomingNotification {
        id: id.into(),
        trigger: "event.updated".into(),
        grant_id: job.as_ref().map(|j| j.grant_id.clone()),
        event_id: job.as_ref().map(|j| j.record_key.clone()),
        received_at: at(0),
        body: format!(r#"{{"id":"{id}"}}"#).into_bytes(),
        job,
        grant_change: None,
    }
}
