//! `[crm] kind = "salesforce"`: Salesforce Events. `token_url` defaults to
//! `{instance_url}/services/oauth2/token`.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{ContactLinking, CrmKind, KindTable, OwnerRule};
use crate::config::defaults::crm::SALESFORCE_TOKEN_PATH;
use crate::config::{defaults, value};

/// `[crm] kind = "salesforce"`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceCrmSettings {
    /// `instance_url` (required), e.g. `https://acme.my.salesforce.com`.
    #[serde(with = "value::http_url")]
    pub instance_url: Url,
    /// `client_id` (required): the External Client App's consumer key.
    #[serde(deserialize_with = "value::non_empty")]
    pub client_id: String,
    /// `client_secret` (required; alias `CRM_API_KEY`).
    #[serde(with = "value::secret")]
    pub client_secret: SecretString,
    /// `token_url`, default `{instance_url}/services/oauth2/token`.
    #[serde(with = "value::http_url")]
    pub token_url: Url,
    /// `api_version`, default `v62.0`.
    #[serde(
        default = "defaults::crm::api_version",
        deserialize_with = "value::api_version"
    )]
    pub api_version: String,
    /// `external_id_field`, default `Calsync_Event_Id__c`: the Event field holding our id.
    #[serde(
        default = "defaults::crm::external_id_field",
        deserialize_with = "value::identifier"
    )]
    pub external_id_field: String,
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
    /// `batch_size`, default 200 (the sObject Collections maximum; more is a configuration
    /// error): the most Event writes sent in one collections request; 1 writes each Event with
    /// its own request, as before batching.
    #[serde(
        default = "defaults::crm::salesforce_batch_size",
        deserialize_with = "value::salesforce_batch_size"
    )]
    pub batch_size: usize,
    /// `batch_linger`, default 2s, at most half of `sync.lease` (the default is shortened to fit
    /// a short lease): the longest a batch waits for jobs already running to join it. It goes sooner when it is full or when every running
    /// job is in, so a lone change is written at once (`crate::crm::batch`); `0s`: a batch takes
    /// only the writes already waiting.
    #[serde(default = "defaults::crm::batch_linger", with = "value::duration")]
    pub batch_linger: Duration,
}

impl CrmKind for SalesforceCrmSettings {
    const CREDENTIAL: Option<&'static str> = Some("client_secret");

    /// `token_url` from `instance_url` when it is not set.
    fn prepare(table: &mut KindTable<'_>) {
        if table.is_set("token_url") {
            return;
        }
        let instance = table
            .text("instance_url")
            .and_then(|text| Url::parse(&text).ok())
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
        match instance {
            Some(mut url) => {
                url.set_path(SALESFORCE_TOKEN_PATH);
                url.set_query(None);
                url.set_fragment(None);
                table.derive("token_url", url.to_string(), "instance_url");
            }
            // instance_url is missing or wrong, and reported as such.
            None => table.placeholder("token_url"),
        }
    }
}
