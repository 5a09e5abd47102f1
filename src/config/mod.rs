//! Settings: typed, validated configuration.
//!
//! Sources, lowest precedence first: built-in defaults (`defaults`), the TOML file
//! (`--config PATH` or `CALSYNC_CONFIG`), the convenience aliases (`NYLAS_API_KEY`,
//! `NYLAS_WEBHOOK_SECRET`, `NYLAS_API_URI`, `CRM_API_KEY`), then `CALSYNC__SECTION__KEY`
//! variables (`sources`). The layers are merged into one tree that remembers where each value
//! came from (`tree`), and each table of the tree is deserialized straight into the typed
//! structs below by serde, through a deserializer that knows each value's key (`de`) and the
//! checks of each kind of value (`value`); `[crm]` is a tagged enum with one struct per kind
//! (`crm`). `load` drives it and `loading` keeps the problems; `keys` knows every key, for
//! "did you mean"; `summary` is what `calsync check` prints; `redact` hides credentials in URLs.
//!
//! Every problem is reported at once, each naming its key and where the value came from; a key
//! of another CRM kind set in the environment, or a `CALSYNC_` variable with single
//! underscores, is a warning ([`ConfigWarning`]) rather than an error.
//!
//! Invariants: a [`Settings`] value has passed every check (a command can use it without
//! re-validating); secrets are [`SecretString`] and never appear in the `Debug` output of
//! [`Settings`], in [`Settings::redacted_summary`] or in a [`ConfigError`]; URLs are shown
//! there with their credentials hidden.

mod crm;
mod de;
pub(crate) mod defaults;
mod error;
mod filter;
mod keys;
mod level;
mod load;
mod loading;
mod redact;
mod sources;
mod summary;
mod tree;
mod value;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

pub use crm::{
    ContactLinking, CrmSettings, HubSpotCrmSettings, JsonlCrmSettings, OwnerRule,
    PipedriveCrmSettings, RestCrmSettings, SalesforceCrmSettings,
};
pub use error::{ConfigError, ConfigErrors, ConfigWarning, Origin};
pub use filter::{FilterSettings, TitlePattern};
pub use level::{LevelError, env_filter};
pub use load::{LoadOptions, load};
pub use redact::redact_url;
pub use sources::CONFIG_PATH_VAR;

/// All settings. Their `Debug` output is the redacted summary (with the warnings).
#[derive(Clone)]
pub struct Settings {
    /// `[server]`: the webhook HTTP server.
    pub server: ServerSettings,
    /// `[nylas]`: the Nylas API and webhook secrets.
    pub nylas: NylasSettings,
    /// `[store]`: the durable store.
    pub store: StoreSettings,
    /// `[crm]`: the CRM written to.
    pub crm: CrmSettings,
    /// `[sync]`: the workers and their retries.
    pub sync: SyncSettings,
    /// `[filter]`: which events are worth a CRM record.
    pub filter: FilterSettings,
    /// `[reconcile]`: the periodic catch-up.
    pub reconcile: ReconcileSettings,
    /// `[log]`: logging.
    pub log: LogSettings,
    /// What loading noticed but accepted (a key of another CRM kind set in the environment, a
    /// misspelt variable); the binary logs them once logging has started.
    pub warnings: Vec<ConfigWarning>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// `listen`, default `0.0.0.0:3000`.
    #[serde(deserialize_with = "value::socket_addr")]
    pub listen: SocketAddr,
    /// `webhook_path`, default `/webhooks/nylas`.
    #[serde(deserialize_with = "value::url_path")]
    pub webhook_path: String,
    /// `max_body_bytes`, default 4 MiB: the largest accepted body, compressed or not.
    #[serde(deserialize_with = "value::positive")]
    pub max_body_bytes: usize,
    /// `shutdown_timeout`, default 20s: how long in-flight jobs may finish on SIGTERM.
    #[serde(with = "value::duration")]
    pub shutdown_timeout: Duration,
    /// `request_timeout`, default 30s: how long a client may take to send a request's headers,
    /// and then its body.
    #[serde(with = "value::positive_duration")]
    pub request_timeout: Duration,
    /// `max_connections`, default 1024: connections served at once; more wait to be accepted.
    #[serde(deserialize_with = "value::positive")]
    pub max_connections: usize,
}

/// `[nylas]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NylasSettings {
    /// `api_uri`, default `https://api.us.nylas.com` (alias `NYLAS_API_URI`).
    #[serde(with = "value::http_url")]
    pub api_uri: Url,
    /// `api_key` (alias `NYLAS_API_KEY`); required by commands that call Nylas.
    #[serde(with = "value::optional_secret")]
    pub api_key: Option<SecretString>,
    /// `webhook_secrets` (alias `NYLAS_WEBHOOK_SECRET` adds one). Empty: POSTs answer 503.
    #[serde(with = "value::secrets")]
    pub webhook_secrets: Vec<SecretString>,
    /// `fetch`, default `always`.
    pub fetch: FetchPolicy,
    /// `timeout`, default 10s, per request.
    #[serde(with = "value::positive_duration")]
    pub timeout: Duration,
    /// `requests_per_second`, default 20; 0 means no cap.
    pub requests_per_second: u32,
}

/// When the worker reads the event from the Events API instead of trusting the notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchPolicy {
    /// Always fetch (the notification only says *that* something changed).
    Always,
    /// Fetch only when the notification is incomplete (a type suffix, or no `when`).
    WhenIncomplete,
}

/// `[store]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `url`, default `sqlite://calsync.db`. May hold a password: never logged unredacted.
    #[serde(with = "value::store_url")]
    pub url: SecretString,
    /// `keep_notifications`, default 7d: how long the notification log is kept for replay.
    #[serde(with = "value::duration")]
    pub keep_notifications: Duration,
}

/// `[sync]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSettings {
    /// `workers`, default 8: jobs processed concurrently.
    #[serde(deserialize_with = "value::positive")]
    pub workers: usize,
    /// `max_attempts`, default 12: failures of one event before it is dead-lettered.
    #[serde(deserialize_with = "value::positive")]
    pub max_attempts: u32,
    /// `retry_initial`, default 1s; at most `retry_max`.
    #[serde(with = "value::positive_duration")]
    pub retry_initial: Duration,
    /// `retry_max`, default 10m.
    #[serde(with = "value::duration")]
    pub retry_max: Duration,
    /// `lease`, default 60s: how long a claimed job is held before another worker (or replica)
    /// may take it; renewed while the job runs, so it only matters after a crash.
    #[serde(with = "value::positive_duration")]
    pub lease: Duration,
    /// `coalesce_window`, default 1s: how long an event must be quiet after a notification
    /// before its job runs, so that a burst of edits costs one CRM write; `0s` runs at once.
    #[serde(with = "value::duration")]
    pub coalesce_window: Duration,
    /// `coalesce_max_delay`, default 10s: the longest a notified change waits for its event to
    /// become quiet (counted from the first notification of the burst); not shorter than
    /// `coalesce_window`.
    #[serde(with = "value::duration")]
    pub coalesce_max_delay: Duration,
    /// `crm_requests_per_second`, default 0 (no cap).
    pub crm_requests_per_second: u32,
    /// `calendars`, default `all`.
    pub calendars: CalendarSelection,
    /// `exclude_read_only_calendars`, default false (holiday calendars and the like).
    pub exclude_read_only_calendars: bool,
    /// `internal_domains`, default empty: attendees at these domains are colleagues.
    #[serde(deserialize_with = "value::domains")]
    pub internal_domains: Vec<String>,
    /// `series_horizon`, default 90d: how far ahead the occurrences of a recurring series become
    /// records (the window rolls forward with time; the past reaches as far as
    /// `reconcile.window_days.back` and backfill read).
    #[serde(with = "value::positive_duration")]
    pub series_horizon: Duration,
    /// `deleted_meetings`, default `archive`: what a meeting whose every copy was deleted
    /// becomes in the CRM.
    pub deleted_meetings: DeletedMeetings,
    /// `private_events`, default `redact`: what reaches the CRM of a private event.
    pub private_events: PrivateEvents,
}

/// What the CRM record of a meeting becomes once every connected copy of it is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletedMeetings {
    /// `archive`: soft-delete the record (each CRM's own delete: recycle bin, archive).
    #[default]
    Archive,
    /// `cancel`: keep the record, marked cancelled exactly as a `status: cancelled` event is.
    Cancel,
}

/// What is written of an event marked private (`visibility` `private` or `confidential`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivateEvents {
    /// `redact`: times, status and attendees only, titled "Private meeting".
    Redact,
    /// `skip`: nothing (a record the event already had is removed).
    Skip,
    /// `sync`: everything, like any other event.
    Sync,
}

/// Which calendars of a grant backfill and reconciliation read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarSelection {
    /// `all`: every calendar of the grant.
    All,
    /// `primary`: the grant's primary calendar only.
    Primary,
}

/// `[reconcile]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconcileSettings {
    /// `interval`, default 15m; zero disables reconciliation.
    #[serde(with = "value::duration")]
    pub interval: Duration,
    /// `[reconcile.window_days]`: the window reconciliation reads, around now.
    pub window_days: WindowDays,
    /// `safety_margin`, default 5m: subtracted from the last run for `updated_after`.
    #[serde(with = "value::duration")]
    pub safety_margin: Duration,
}

/// `[reconcile.window_days]`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowDays {
    /// `back`, default 30: days before now.
    pub back: u32,
    /// `ahead`, default 365: days after now.
    pub ahead: u32,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `format`: default `text` when logs go to a terminal, `json` otherwise.
    pub format: LogFormat,
    /// `level`, default `info` (an `EnvFilter` directive).
    #[serde(deserialize_with = "value::log_level")]
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// `json`: one JSON object per line.
    Json,
    /// `text`: human-readable lines.
    Text,
}

impl Settings {
    /// The Nylas API key, for commands that call Nylas; an error naming `nylas.api_key` and
    /// its variables when it is not set.
    pub fn require_nylas_api_key(&self) -> Result<&SecretString, ConfigError> {
        self.nylas
            .api_key
            .as_ref()
            .ok_or_else(|| ConfigError::Missing {
                key: "nylas.api_key".to_owned(),
                when: String::new(),
                env: sources::env_names("nylas.api_key"),
            })
    }
}
