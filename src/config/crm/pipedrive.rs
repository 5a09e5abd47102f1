//! `[crm] kind = "pipedrive"`: Pipedrive activities (API v2). The API is found from
//! `company_domain` (`https://<company>.pipedrive.com`) or, instead, `base_url`.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{ContactLinking, CrmKind, KindTable, OwnerRule};
use crate::config::{defaults, value};

/// `[crm] kind = "pipedrive"`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PipedriveCrmSettings {
    /// `api_token` (required; alias `CRM_API_KEY`).
    #[serde(with = "value::secret")]
    pub api_token: SecretString,
    /// `company_domain`: `acme` or `acme.pipedrive.com` (required unless `base_url` is set).
    #[serde(default)]
    pub company_domain: Option<String>,
    /// From `company_domain` (`https://<company>.pipedrive.com`), or `base_url`.
    #[serde(with = "value::http_url")]
    pub base_url: Url,
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
}

impl CrmKind for PipedriveCrmSettings {
    const CREDENTIAL: Option<&'static str> = Some("api_token");

    /// `base_url` from `company_domain`; exactly one of them is set.
    fn prepare(table: &mut KindTable<'_>) {
        let base_url_set = table.is_set("base_url");
        match (table.is_set("company_domain"), base_url_set) {
            (true, true) => {
                let problem = "set either crm.company_domain or crm.base_url, not both";
                table.invalid("company_domain", problem);
            }
            (true, false) => match table.text("company_domain").as_deref().map(company) {
                Some(Ok(company)) => {
                    let url = defaults::crm::pipedrive_base_url(company);
                    table.derive("base_url", url, "company_domain");
                }
                Some(Err(problem)) => {
                    table.invalid("company_domain", &problem);
                    table.placeholder("base_url");
                }
                None => {
                    table.invalid("company_domain", "expected text");
                    table.placeholder("base_url");
                }
            },
            (false, true) => {}
            (false, false) => {
                table.missing("company_domain", " (or set crm.base_url)");
                table.placeholder("base_url");
            }
        }
    }
}

/// The company of `acme` or `acme.pipedrive.com`.
fn company(domain: &str) -> Result<&str, String> {
    let company = domain.trim_end_matches(".pipedrive.com");
    let valid = !company.is_empty()
        && company
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(company)
    } else {
        let domain = crate::config::redact::shown(domain);
        Err(format!(
            "invalid company domain {domain:?}, expected e.g. \"acme\""
        ))
    }
}
