//! `[crm] kind = "rest"`: the generic REST contract.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{CrmKind, OwnerRule};
use crate::config::{defaults, value};

/// `[crm] kind = "rest"`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestCrmSettings {
    /// `base_url` (required).
    #[serde(with = "value::http_url")]
    pub base_url: Url,
    /// `api_key` (alias `CRM_API_KEY`), sent as a bearer token when set.
    #[serde(default, with = "value::optional_secret")]
    pub api_key: Option<SecretString>,
    /// `meetings_path`, default `/api/meetings`.
    #[serde(
        default = "defaults::crm::meetings_path",
        deserialize_with = "value::url_path"
    )]
    pub meetings_path: String,
    /// `timeout`, default 10s, per request.
    #[serde(default = "defaults::crm::timeout", with = "value::positive_duration")]
    pub timeout: Duration,
    /// `owner`, default `organizer`: whose meeting it is (`organizer`, `grant`, `none`).
    #[serde(default)]
    pub owner: OwnerRule,
}

impl CrmKind for RestCrmSettings {
    const CREDENTIAL: Option<&'static str> = Some("api_key");
}
