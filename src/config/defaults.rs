//! Every built-in default, in one place: the `Default` of each table, and the defaults of the
//! CRM kinds' optional keys (a kind's required keys have none).
//!
//! `config/calsync.example.toml` shows these values; a test loads it and compares it with them
//! (`tests/example.rs`), so the two cannot drift. The one default decided at load time is
//! `log.format`, which follows whether logs go to a terminal (see `load`).

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::{
    CalendarSelection, DeletedMeetings, FetchPolicy, FilterSettings, LogFormat, LogSettings,
    NylasSettings, PrivateEvents, ReconcileSettings, ServerSettings, StoreSettings, SyncSettings,
    WindowDays,
};

const MINUTE: u64 = 60;
const DAY: u64 = 24 * 60 * MINUTE;

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: ([0, 0, 0, 0], 3000).into(),
            webhook_path: "/webhooks/nylas".to_owned(),
            max_body_bytes: 4 << 20,
            shutdown_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

impl Default for NylasSettings {
    fn default() -> Self {
        NylasSettings {
            api_uri: fixed_url("https://api.us.nylas.com"),
            api_key: None,
            webhook_secrets: Vec::new(),
            fetch: FetchPolicy::Always,
            timeout: Duration::from_secs(10),
            requests_per_second: 20,
        }
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: SecretString::from("sqlite://calsync.db"),
            keep_notifications: Duration::from_secs(7 * DAY),
        }
    }
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            workers: 8,
            max_attempts: 12,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(10 * MINUTE),
            lease: Duration::from_secs(60),
            coalesce_window: Duration::from_secs(1),
            coalesce_max_delay: Duration::from_secs(10),
            crm_requests_per_second: 0,
            calendars: CalendarSelection::All,
            exclude_read_only_calendars: false,
            internal_domains: Vec::new(),
            series_horizon: Duration::from_secs(90 * DAY),
            deleted_meetings: DeletedMeetings::Archive,
            private_events: PrivateEvents::Redact,
        }
    }
}

impl Default for FilterSettings {
    fn default() -> Self {
        FilterSettings {
            require_external_attendee: false,
            skip_free: false,
            skip_declined: false,
            skip_all_day: false,
            skip_event_types: ["outOfOffice", "focusTime", "workingLocation"]
                .map(str::to_owned)
                .to_vec(),
            skip_titles: Vec::new(),
        }
    }
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            interval: Duration::from_secs(15 * MINUTE),
            window_days: WindowDays::default(),
            safety_margin: Duration::from_secs(5 * MINUTE),
        }
    }
}

impl Default for WindowDays {
    fn default() -> Self {
        WindowDays {
            back: 30,
            ahead: 365,
        }
    }
}

impl Default for LogSettings {
    /// `json`: the format when logs do not go to a terminal.
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Json,
            level: "info".to_owned(),
        }
    }
}

/// The defaults of the CRM kinds' optional keys (`#[serde(default = "…")]`).
pub(crate) mod crm {
    use super::*;

    /// `crm.timeout` (every kind that calls a CRM).
    pub fn timeout() -> Duration {
        Duration::from_secs(10)
    }

    /// `crm.meetings_path` (`rest`).
    pub fn meetings_path() -> String {
        "/api/meetings".to_owned()
    }

    /// `crm.base_url` (`hubspot`).
    pub fn hubspot_base_url() -> Url {
        fixed_url("https://api.hubapi.com")
    }

    /// `crm.event_id_property` (`hubspot`).
    pub fn event_id_property() -> String {
        "calsync_event_id".to_owned()
    }

    /// `crm.batch_size` (`hubspot`): HubSpot's batch maximum, `crm::hubspot::MAX_BATCH` (a
    /// literal here so that configuration does not depend on the adapters; a test in the
    /// adapter keeps the two equal).
    pub fn hubspot_batch_size() -> usize {
        100
    }

    /// `crm.batch_size` (`salesforce`): the sObject Collections maximum,
    /// `crm::salesforce::MAX_BATCH` (a literal for the same reason; a test in the adapter keeps
    /// the two equal).
    pub fn salesforce_batch_size() -> usize {
        200
    }

    /// `crm.batch_linger` (`hubspot`, `salesforce`): long enough for the jobs of one claim to
    /// reach their batch at `nylas.requests_per_second` (a batch waits only for jobs already
    /// running, so a lone change is not delayed).
    pub fn batch_linger() -> Duration {
        Duration::from_secs(2)
    }

    /// `crm.api_version` (`salesforce`).
    pub fn api_version() -> String {
        "v62.0".to_owned()
    }

    /// `crm.external_id_field` (`salesforce`).
    pub fn external_id_field() -> String {
        "Calsync_Event_Id__c".to_owned()
    }

    /// The path of `crm.token_url` under `crm.instance_url` (`salesforce`).
    pub const SALESFORCE_TOKEN_PATH: &str = "/services/oauth2/token";

    /// `https://<company_domain>.pipedrive.com`, the `crm.base_url` of `pipedrive`.
    pub fn pipedrive_base_url(company: &str) -> String {
        format!("https://{company}.pipedrive.com")
    }

    /// `crm.link_contacts`.
    pub fn link_contacts() -> bool {
        true
    }

    /// `crm.create_missing_contacts`.
    pub fn create_missing_contacts() -> bool {
        false
    }
}

/// A URL literal of this file. Parsing a fixed, valid literal cannot fail (the defaults tests
/// parse every one), so this is one of the provably infallible `expect`s the conventions allow.
#[allow(clippy::expect_used)]
fn fixed_url(text: &'static str) -> Url {
    Url::parse(text).expect("a built-in default URL is valid")
}
