//! Validation of `[crm]`: the chosen `kind` picks its keys; a key of another kind is an error
//! (most likely a typo or a leftover), and so is a missing required key of the kind.
//!
//! The `CRM_API_KEY` alias sets `crm.api_key`; for kinds whose credential has another name
//! (`token`, `api_token`, `client_secret`), the alias's value is used as that credential when
//! the kind's own key is not set, so one variable works for every kind. A `crm.api_key` set any
//! other way is still an error for those kinds.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::error::{ConfigError, Origin};
use super::raw::RawCrm;
use super::values::{Parsed, Values};
use super::{
    ContactLinking, CrmSettings, HubSpotCrmSettings, JsonlCrmSettings, PipedriveCrmSettings,
    RestCrmSettings, SalesforceCrmSettings,
};

/// The kinds and the keys each uses (besides `kind`).
pub(super) const KIND_KEYS: &[(&str, &[&str])] = &[
    ("rest", &["base_url", "api_key", "meetings_path", "timeout"]),
    ("jsonl", &["path"]),
    (
        "hubspot",
        &[
            "token",
            "base_url",
            "event_id_property",
            "timeout",
            "link_contacts",
            "create_missing_contacts",
        ],
    ),
    (
        "salesforce",
        &[
            "instance_url",
            "client_id",
            "client_secret",
            "token_url",
            "api_version",
            "external_id_field",
            "timeout",
            "link_contacts",
            "create_missing_contacts",
        ],
    ),
    (
        "pipedrive",
        &[
            "api_token",
            "company_domain",
            "base_url",
            "timeout",
            "link_contacts",
            "create_missing_contacts",
        ],
    ),
];

/// The alias variable that sets `crm.api_key`.
const CRM_KEY_ALIAS: &str = "CRM_API_KEY";

/// Validates `[crm]`.
pub(super) fn crm(raw: RawCrm, v: &Values<'_>) -> Parsed<CrmSettings> {
    let kind = raw.kind.clone().unwrap_or_else(|| "rest".to_owned());
    let kind = kind.trim();
    let Some((_, used)) = KIND_KEYS.iter().find(|(name, _)| *name == kind) else {
        let names: Vec<String> = KIND_KEYS
            .iter()
            .map(|(name, _)| format!("{name:?}"))
            .collect();
        let problem = format!(
            "invalid value {kind:?}, expected one of {}",
            names.join(", ")
        );
        return Err(v.invalid("crm.kind", problem));
    };
    only_keys(v, kind, used)?;
    match kind {
        "rest" => rest(raw, v),
        "jsonl" => jsonl(raw, v),
        "hubspot" => hubspot(raw, v),
        "salesforce" => salesforce(raw, v),
        _ => pipedrive(raw, v),
    }
}

/// Checks that the keys set under `[crm]` are all used by `kind` (the alias's `api_key` is
/// allowed for every kind with a credential).
fn only_keys(v: &Values<'_>, kind: &str, used: &[&str]) -> Parsed<()> {
    let from_alias = |key: &str| {
        key == "api_key"
            && kind != "jsonl"
            && v.origin("crm.api_key") == Origin::Env(CRM_KEY_ALIAS.to_owned())
    };
    match v
        .0
        .keys_under("crm")
        .find(|key| *key != "kind" && !used.contains(key) && !from_alias(key))
    {
        Some(unused) => {
            let key = format!("crm.{unused}");
            Err(ConfigError::UnusedKey {
                origin: v.origin(&key),
                key,
                kind: kind.to_owned(),
            })
        }
        None => Ok(()),
    }
}

fn when(kind: &str) -> String {
    format!(" when crm.kind = \"{kind}\"")
}

fn timeout(raw: Option<String>, v: &Values<'_>) -> Parsed<Duration> {
    v.positive_duration("crm.timeout", raw, Duration::from_secs(10))
}

fn contacts(raw: &RawCrm, v: &Values<'_>) -> Parsed<ContactLinking> {
    Ok(ContactLinking {
        link_contacts: v.boolean("crm.link_contacts", raw.link_contacts.clone(), true)?,
        create_missing_contacts: v.boolean(
            "crm.create_missing_contacts",
            raw.create_missing_contacts.clone(),
            false,
        )?,
    })
}

/// The kind's credential: its own key, else the `CRM_API_KEY` alias; required.
fn credential(
    v: &Values<'_>,
    key: &'static str,
    own: Option<SecretString>,
    alias: Option<SecretString>,
    kind: &str,
) -> Parsed<SecretString> {
    let own = v.secret(key, own)?;
    let alias = v.secret("crm.api_key", alias)?;
    own.or(alias).ok_or_else(|| {
        let mut error = v.missing(key, when(kind));
        if let ConfigError::Missing { env, .. } = &mut error {
            env.push_str(&format!(" or {CRM_KEY_ALIAS}"));
        }
        error
    })
}

fn rest(raw: RawCrm, v: &Values<'_>) -> Parsed<CrmSettings> {
    let base_url = raw
        .base_url
        .ok_or_else(|| v.missing("crm.base_url", when("rest")))?;
    Ok(CrmSettings::Rest(RestCrmSettings {
        base_url: v.http_url("crm.base_url", &base_url)?,
        api_key: v.secret("crm.api_key", raw.api_key)?,
        meetings_path: v.url_path("crm.meetings_path", raw.meetings_path, "/api/meetings")?,
        timeout: timeout(raw.timeout, v)?,
    }))
}

fn jsonl(raw: RawCrm, v: &Values<'_>) -> Parsed<CrmSettings> {
    let path = raw
        .path
        .ok_or_else(|| v.missing("crm.path", when("jsonl")))?;
    if path.trim().is_empty() {
        return Err(v.invalid("crm.path", "must not be empty"));
    }
    Ok(CrmSettings::Jsonl(JsonlCrmSettings {
        path: PathBuf::from(path),
    }))
}

fn hubspot(raw: RawCrm, v: &Values<'_>) -> Parsed<CrmSettings> {
    let contacts = contacts(&raw, v)?;
    let base_url = raw.base_url.as_deref().unwrap_or("https://api.hubapi.com");
    Ok(CrmSettings::HubSpot(HubSpotCrmSettings {
        token: credential(v, "crm.token", raw.token, raw.api_key, "hubspot")?,
        base_url: v.http_url("crm.base_url", base_url)?,
        event_id_property: identifier(
            v,
            "crm.event_id_property",
            raw.event_id_property,
            "calsync_event_id",
        )?,
        timeout: timeout(raw.timeout, v)?,
        contacts,
    }))
}

fn salesforce(raw: RawCrm, v: &Values<'_>) -> Parsed<CrmSettings> {
    let contacts = contacts(&raw, v)?;
    let instance_url = raw
        .instance_url
        .ok_or_else(|| v.missing("crm.instance_url", when("salesforce")))?;
    let instance_url = v.http_url("crm.instance_url", &instance_url)?;
    let token_url = match raw.token_url {
        Some(url) => v.http_url("crm.token_url", &url)?,
        None => default_token_url(&instance_url),
    };
    let client_id = raw
        .client_id
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| v.missing("crm.client_id", when("salesforce")))?;
    let api_version = raw.api_version.unwrap_or_else(|| "v62.0".to_owned());
    if !is_api_version(&api_version) {
        let problem = format!("invalid value {api_version:?}, expected a version like \"v62.0\"");
        return Err(v.invalid("crm.api_version", problem));
    }
    Ok(CrmSettings::Salesforce(SalesforceCrmSettings {
        instance_url,
        client_id,
        client_secret: credential(
            v,
            "crm.client_secret",
            raw.client_secret,
            raw.api_key,
            "salesforce",
        )?,
        token_url,
        api_version,
        external_id_field: identifier(
            v,
            "crm.external_id_field",
            raw.external_id_field,
            "Calsync_Event_Id__c",
        )?,
        timeout: timeout(raw.timeout, v)?,
        contacts,
    }))
}

fn pipedrive(raw: RawCrm, v: &Values<'_>) -> Parsed<CrmSettings> {
    let contacts = contacts(&raw, v)?;
    let base_url = match (raw.company_domain, raw.base_url) {
        (Some(_), Some(_)) => {
            let problem = "set either crm.company_domain or crm.base_url, not both";
            return Err(v.invalid("crm.company_domain", problem));
        }
        (Some(domain), None) => company_url(v, &domain)?,
        (None, Some(url)) => v.http_url("crm.base_url", &url)?,
        (None, None) => {
            return Err(v.missing("crm.company_domain", when("pipedrive")));
        }
    };
    Ok(CrmSettings::Pipedrive(PipedriveCrmSettings {
        api_token: credential(v, "crm.api_token", raw.api_token, raw.api_key, "pipedrive")?,
        base_url,
        timeout: timeout(raw.timeout, v)?,
        contacts,
    }))
}

/// `https://<company>.pipedrive.com` from `acme` or `acme.pipedrive.com`.
fn company_url(v: &Values<'_>, domain: &str) -> Parsed<Url> {
    let company = domain.trim().trim_end_matches(".pipedrive.com");
    let valid = !company.is_empty()
        && company
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid {
        let problem = format!("invalid company domain {domain:?}, expected e.g. \"acme\"");
        return Err(v.invalid("crm.company_domain", problem));
    }
    v.http_url(
        "crm.company_domain",
        &format!("https://{company}.pipedrive.com"),
    )
}

/// `{instance_url}/services/oauth2/token`.
fn default_token_url(instance_url: &Url) -> Url {
    let mut url = instance_url.clone();
    url.set_path("/services/oauth2/token");
    url.set_query(None);
    url
}

/// `v62.0`-style.
fn is_api_version(text: &str) -> bool {
    text.strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.chars().all(|c| c.is_ascii_digit())
                && minor.chars().all(|c| c.is_ascii_digit())
        })
}

/// A field or property name: letters, digits and `_`, not starting with a digit.
fn identifier(
    v: &Values<'_>,
    key: &'static str,
    raw: Option<String>,
    default: &str,
) -> Parsed<String> {
    let name = raw.unwrap_or_else(|| default.to_owned());
    let valid = name
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        let problem = format!("invalid name {name:?}: letters, digits and _ only");
        return Err(v.invalid(key, problem));
    }
    Ok(name)
}
