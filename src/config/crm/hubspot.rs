//! `[crm] kind = "hubspot"`: HubSpot meetings.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{ContactLinking, CrmKind, OwnerRule};
use crate::config::{defaults, value};

/// `[crm] kind = "hubspot"`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotCrmSettings {
    /// `token` (required; alias `CRM_API_KEY`): a private app or service key token.
    #[serde(with = "value::secret")]
    pub token: SecretString,
    /// `base_url`, default `https://api.hubapi.com`.
    #[serde(default = "defaults::crm::hubspot_base_url", with = "value::http_url")]
    pub base_url: Url,
    /// `event_id_property`, default `calsync_event_id`: the meeting property holding our id.
    #[serde(
        default = "defaults::crm::event_id_property",
        deserialize_with = "value::identifier"
    )]
    pub event_id_property: String,
    /// `timeout`, default 10s, per request.
    #[serde(default = "defaults::crm::timeout", with = "value::positive_duration")]
    pub timeout: Duration,
    /// `link_contacts` and `create_missing_contacts`.
    #[serde(default)]
    pub contacts: ContactLinking,
    /// `owner`, default `organizer`: whose meeting it is (`organizer`, `grant`, `none`).
    #[serde(default)]
    pub owner: OwnerRule,
    /// `default_owner`, default unset: the CRM user (its id) given a meeting whose owner
    /// has no CRM user.
    #[serde(default)]
    pub default_owner: Option<String>,
    /// `batch_size`, default 100 (HubSpot's maximum; more is a configuration error): the most
    /// meeting writes sent in one batch request; 1 writes each meeting with its own requests, as
    /// before batching.
    #[serde(
        default = "defaults::crm::hubspot_batch_size",
        deserialize_with = "value::hubspot_batch_size"
    )]
    pub batch_size: usize,
    /// `batch_linger`, default 2s, at most half of `sync.lease` (the default is shortened to fit
    /// a short lease): the longest a batch waits for jobs already running to join it. It goes sooner when it is full or when every running
    /// job is in, so a lone change is written at once (`crate::crm::batch`); `0s`: a batch takes
    /// only the writes already waiting.
    #[serde(default = "defaults::crm::batch_linger", with = "value::duration")]
    pub batch_linger: Duration,
}

impl CrmKind for HubSpotCrmSettings {
    const CREDENTIAL: Option<&'static str> = Some("token");
}
