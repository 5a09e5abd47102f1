//! Settings: typed, validated configuration.
//!
//! Sources, lowest precedence first: built-in defaults, the TOML file (`--config PATH` or
//! `CALSYNC_CONFIG`), the convenience aliases (`NYLAS_API_KEY`, `NYLAS_WEBHOOK_SECRET`,
//! `NYLAS_API_URI`, `CRM_API_KEY`), then `CALSYNC__SECTION__KEY` variables. An unknown key, a
//! missing required value or a bad value stops start-up with a message naming the key.
//! Secrets are [`SecretString`]: their `Debug` output is redacted.
//!
//! Submodules: `sources` (the layers), `raw` (the file shape), `load` (layering and key
//! checks), `values` and `validate` (typed values and defaults), `summary` (what
//! `calsync check` prints), `error`.
//!
//! Invariants: a [`Settings`] value has passed every check (a command can use it without
//! re-validating); secrets never appear in its `Debug` output, in [`Settings::redacted_summary`]
//! or in a [`ConfigError`].

mod crm;
mod error;
mod load;
mod provenance;
mod raw;
mod sources;
mod summary;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

pub use error::{ConfigError, Origin};
pub use load::{CONFIG_PATH_VAR, LoadOptions, load};

/// All settings.
#[derive(Debug, Clone)]
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
    /// `[reconcile]`: the periodic catch-up.
    pub reconcile: ReconcileSettings,
    /// `[log]`: logging.
    pub log: LogSettings,
}

/// `[server]`
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `listen`, default `0.0.0.0:3000`.
    pub listen: SocketAddr,
    /// `webhook_path`, default `/webhooks/nylas`.
    pub webhook_path: String,
    /// `max_body_bytes`, default 4 MiB: the largest accepted body, compressed or not.
    pub max_body_bytes: usize,
    /// `shutdown_timeout`, default 20s: how long in-flight jobs may finish on SIGTERM; HTTP
    /// connections still open when it passes are closed.
    pub shutdown_timeout: Duration,
    /// `request_timeout`, default 30s: the longest a client may take to send a request's head,
    /// and then its body (an idle keep-alive connection is closed after it too).
    pub request_timeout: Duration,
    /// `max_connections`, default 1024: HTTP connections served at once; more wait in the
    /// listen backlog until one closes.
    pub max_connections: usize,
}

/// `[nylas]`
#[derive(Debug, Clone)]
pub struct NylasSettings {
    /// `api_uri`, default `https://api.us.nylas.com` (alias `NYLAS_API_URI`).
    pub api_uri: Url,
    /// `api_key` (alias `NYLAS_API_KEY`); required by commands that call Nylas.
    pub api_key: Option<SecretString>,
    /// `webhook_secrets` (alias `NYLAS_WEBHOOK_SECRET` adds one). Empty: POSTs answer 503.
    pub webhook_secrets: Vec<SecretString>,
    /// `fetch`, default `always`.
    pub fetch: FetchPolicy,
    /// `timeout`, default 10s, per request.
    pub timeout: Duration,
    /// `requests_per_second`, default 20; 0 means no cap.
    pub requests_per_second: u32,
}

/// When the worker reads the event from the Events API instead of trusting the notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchPolicy {
    /// Always fetch (the notification only says *that* something changed).
    Always,
    /// Fetch only when the notification is incomplete (a type suffix, or no `when`).
    WhenIncomplete,
}

/// `[store]`
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// `url`, default `sqlite://calsync.db`. May hold a password: never logged unredacted.
    pub url: SecretString,
    /// `keep_notifications`, default 7d: how long the notification log is kept for replay.
    pub keep_notifications: Duration,
}

/// `[crm]`: the target, by `kind`.
#[derive(Debug, Clone)]
pub enum CrmSettings {
    /// `kind = "rest"`: the generic REST contract.
    Rest(RestCrmSettings),
    /// `kind = "jsonl"`: dry run, one JSON line per write appended to a file.
    Jsonl(JsonlCrmSettings),
    /// `kind = "hubspot"`: HubSpot meetings.
    HubSpot(HubSpotCrmSettings),
    /// `kind = "salesforce"`: Salesforce Events.
    Salesforce(SalesforceCrmSettings),
    /// `kind = "pipedrive"`: Pipedrive activities (API v2).
    Pipedrive(PipedriveCrmSettings),
}

impl Settings {
    /// The Nylas API key, for commands that call Nylas; an error naming `nylas.api_key` and
    /// its variables when it is not set.
    pub fn require_nylas_api_key(&self) -> Result<&SecretString, ConfigError> {
        self.nylas
            .api_key
            .as_ref()
            .ok_or_else(|| ConfigError::Missing {
                key: "nylas.api_key",
                when: String::new(),
                env: error::env_names("nylas.api_key", Some("NYLAS_API_KEY")),
            })
    }
}

impl CrmSettings {
    /// The `crm.kind` value of these settings (`"rest"`, `"jsonl"`), e.g. for the `crm.kind`
    /// log field.
    pub fn kind(&self) -> &'static str {
        match self {
            CrmSettings::Rest(_) => "rest",
            CrmSettings::Jsonl(_) => "jsonl",
            CrmSettings::HubSpot(_) => "hubspot",
            CrmSettings::Salesforce(_) => "salesforce",
            CrmSettings::Pipedrive(_) => "pipedrive",
        }
    }
}

/// `[crm] kind = "rest"`
#[derive(Debug, Clone)]
pub struct RestCrmSettings {
    /// `base_url` (required).
    pub base_url: Url,
    /// `api_key` (alias `CRM_API_KEY`), sent as a bearer token when set.
    pub api_key: Option<SecretString>,
    /// `meetings_path`, default `/api/meetings`.
    pub meetings_path: String,
    /// `timeout`, default 10s, per request.
    pub timeout: Duration,
}

/// `[crm] kind = "jsonl"`
#[derive(Debug, Clone)]
pub struct JsonlCrmSettings {
    /// `path` (required): the file to append to.
    pub path: PathBuf,
}

/// Linking attendees to CRM contacts (`hubspot`, `salesforce`, `pipedrive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactLinking {
    /// `link_contacts`, default true: link the meeting to the contacts of its attendees.
    pub link_contacts: bool,
    /// `create_missing_contacts`, default false: create a contact for an unknown attendee.
    pub create_missing_contacts: bool,
}

/// `[crm] kind = "hubspot"`
#[derive(Debug, Clone)]
pub struct HubSpotCrmSettings {
    /// `token` (required; alias `CRM_API_KEY`): a private app or service key token.
    pub token: SecretString,
    /// `base_url`, default `https://api.hubapi.com`.
    pub base_url: Url,
    /// `event_id_property`, default `calsync_event_id`: the meeting property holding our id.
    pub event_id_property: String,
    /// `timeout`, default 10s, per request.
    pub timeout: Duration,
    pub contacts: ContactLinking,
}

/// `[crm] kind = "salesforce"`
#[derive(Debug, Clone)]
pub struct SalesforceCrmSettings {
    /// `instance_url` (required), e.g. `https://acme.my.salesforce.com`.
    pub instance_url: Url,
    /// `client_id` (required): the External Client App's consumer key.
    pub client_id: String,
    /// `client_secret` (required; alias `CRM_API_KEY`).
    pub client_secret: SecretString,
    /// `token_url`, default `{instance_url}/services/oauth2/token`.
    pub token_url: Url,
    /// `api_version`, default `v62.0`.
    pub api_version: String,
    /// `external_id_field`, default `Calsync_Event_Id__c`: the Event field holding our id.
    pub external_id_field: String,
    /// `timeout`, default 10s, per request.
    pub timeout: Duration,
    pub contacts: ContactLinking,
}

/// `[crm] kind = "pipedrive"`
#[derive(Debug, Clone)]
pub struct PipedriveCrmSettings {
    /// `api_token` (required; alias `CRM_API_KEY`).
    pub api_token: SecretString,
    /// From `company_domain` (`https://<company>.pipedrive.com`) or `base_url`.
    pub base_url: Url,
    /// `timeout`, default 10s, per request.
    pub timeout: Duration,
    pub contacts: ContactLinking,
}

/// `[sync]`
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// `workers`, default 8: jobs processed concurrently.
    pub workers: usize,
    /// `max_attempts`, default 12: failures of one event before it is dead-lettered.
    pub max_attempts: u32,
    /// `retry_initial`, default 1s.
    pub retry_initial: Duration,
    /// `retry_max`, default 10m.
    pub retry_max: Duration,
    /// `lease`, default 60s: how long a claimed job is held before another worker (or replica)
    /// may take it; renewed while the job runs, so it only matters after a crash.
    pub lease: Duration,
    /// `crm_requests_per_second`, default 0 (no cap).
    pub crm_requests_per_second: u32,
    /// `calendars`, default `all`.
    pub calendars: CalendarSelection,
    /// `exclude_read_only_calendars`, default false (holiday calendars and the like).
    pub exclude_read_only_calendars: bool,
    /// `internal_domains`, default empty: attendees at these domains are colleagues.
    pub internal_domains: Vec<String>,
}

/// Which calendars of a grant backfill and reconciliation read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarSelection {
    /// `all`: every calendar of the grant.
    All,
    /// `primary`: the grant's primary calendar only.
    Primary,
}

/// `[reconcile]`
#[derive(Debug, Clone)]
pub struct ReconcileSettings {
    /// `interval`, default 15m; zero disables reconciliation.
    pub interval: Duration,
    /// `window_days.back`, default 30.
    pub window_days_back: u32,
    /// `window_days.ahead`, default 365.
    pub window_days_ahead: u32,
    /// `safety_margin`, default 5m: subtracted from the last run for `updated_after`.
    pub safety_margin: Duration,
}

/// `[log]`
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// `format`, default `json`.
    pub format: LogFormat,
    /// `level`, default `info` (an `EnvFilter` directive).
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `json`: one JSON object per line.
    Json,
    /// `text`: human-readable lines.
    Text,
}
