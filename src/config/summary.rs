//! The redacted summary that `calsync check` prints.
//!
//! Invariant: no secret reaches the summary: API keys and webhook secrets are `***` (or
//! `(not set)`), and the store URL has its password (in the user info or in a `password`
//! query parameter) replaced by `***`.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::validate::{CALENDAR_SELECTIONS, FETCH_POLICIES, LOG_FORMATS};
use super::{ContactLinking, CrmSettings, Settings};

const HIDDEN: &str = "***";
const NOT_SET: &str = "(not set)";

impl Settings {
    /// Every setting as `(key, value)`, in file order, with secrets hidden: `***` when set,
    /// `(not set)` otherwise. The `[crm]` keys are those of the configured kind.
    pub fn redacted_summary(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut add = |key: &str, value: String| out.push((key.to_owned(), value));
        let server = &self.server;
        add("server.listen", server.listen.to_string());
        add("server.webhook_path", server.webhook_path.clone());
        add("server.max_body_bytes", server.max_body_bytes.to_string());
        add("server.shutdown_timeout", duration(server.shutdown_timeout));
        add("server.request_timeout", duration(server.request_timeout));
        add("server.max_connections", server.max_connections.to_string());

        let nylas = &self.nylas;
        add("nylas.api_uri", nylas.api_uri.to_string());
        add("nylas.api_key", secret(nylas.api_key.as_ref()));
        add("nylas.webhook_secrets", secrets(&nylas.webhook_secrets));
        add("nylas.fetch", name(FETCH_POLICIES, nylas.fetch));
        add("nylas.timeout", duration(nylas.timeout));
        add(
            "nylas.requests_per_second",
            nylas.requests_per_second.to_string(),
        );

        add("store.url", redacted_store_url(&self.store.url));
        add(
            "store.keep_notifications",
            duration(self.store.keep_notifications),
        );

        add("crm.kind", self.crm.kind().to_owned());
        match &self.crm {
            CrmSettings::Rest(rest) => {
                add("crm.base_url", rest.base_url.to_string());
                add("crm.api_key", secret(rest.api_key.as_ref()));
                add("crm.meetings_path", rest.meetings_path.clone());
                add("crm.timeout", duration(rest.timeout));
            }
            CrmSettings::Jsonl(jsonl) => add("crm.path", jsonl.path.display().to_string()),
            CrmSettings::HubSpot(hubspot) => {
                add("crm.token", HIDDEN.to_owned());
                add("crm.base_url", hubspot.base_url.to_string());
                add("crm.event_id_property", hubspot.event_id_property.clone());
                add("crm.timeout", duration(hubspot.timeout));
                contacts(&mut add, &hubspot.contacts);
            }
            CrmSettings::Salesforce(salesforce) => {
                add("crm.instance_url", salesforce.instance_url.to_string());
                add("crm.client_id", salesforce.client_id.clone());
                add("crm.client_secret", HIDDEN.to_owned());
                add("crm.token_url", salesforce.token_url.to_string());
                add("crm.api_version", salesforce.api_version.clone());
                add(
                    "crm.external_id_field",
                    salesforce.external_id_field.clone(),
                );
                add("crm.timeout", duration(salesforce.timeout));
                contacts(&mut add, &salesforce.contacts);
            }
            CrmSettings::Pipedrive(pipedrive) => {
                add("crm.api_token", HIDDEN.to_owned());
                let company = pipedrive
                    .base_url
                    .host_str()
                    .and_then(|host| host.strip_suffix(".pipedrive.com"))
                    .map_or_else(|| NOT_SET.to_owned(), str::to_owned);
                add("crm.company_domain", company);
                add("crm.base_url", pipedrive.base_url.to_string());
                add("crm.timeout", duration(pipedrive.timeout));
                contacts(&mut add, &pipedrive.contacts);
            }
        }

        let sync = &self.sync;
        add("sync.workers", sync.workers.to_string());
        add("sync.max_attempts", sync.max_attempts.to_string());
        add("sync.retry_initial", duration(sync.retry_initial));
        add("sync.retry_max", duration(sync.retry_max));
        add("sync.lease", duration(sync.lease));
        add(
            "sync.crm_requests_per_second",
            sync.crm_requests_per_second.to_string(),
        );
        add("sync.calendars", name(CALENDAR_SELECTIONS, sync.calendars));
        add(
            "sync.exclude_read_only_calendars",
            sync.exclude_read_only_calendars.to_string(),
        );
        add("sync.internal_domains", list(&sync.internal_domains));

        let reconcile = &self.reconcile;
        add("reconcile.interval", duration(reconcile.interval));
        add(
            "reconcile.window_days.back",
            reconcile.window_days_back.to_string(),
        );
        add(
            "reconcile.window_days.ahead",
            reconcile.window_days_ahead.to_string(),
        );
        add("reconcile.safety_margin", duration(reconcile.safety_margin));

        add("log.format", name(LOG_FORMATS, self.log.format));
        add("log.level", self.log.level.clone());
        out
    }
}

fn duration(value: Duration) -> String {
    humantime::format_duration(value).to_string()
}

fn name<T: PartialEq>(options: &[(&str, T)], value: T) -> String {
    let found = options.iter().find(|(_, option)| *option == value);
    found.map_or("?", |(name, _)| name).to_owned()
}

fn list(values: &[String]) -> String {
    if values.is_empty() {
        return "(none)".to_owned();
    }
    values.join(", ")
}

fn secret(value: Option<&SecretString>) -> String {
    value.map_or(NOT_SET, |_| HIDDEN).to_owned()
}

fn secrets(values: &[SecretString]) -> String {
    if values.is_empty() {
        return NOT_SET.to_owned();
    }
    vec![HIDDEN; values.len()].join(", ")
}

/// The store URL with any password replaced by `***`; entirely hidden if it cannot be parsed
/// (validation makes that impossible, but the summary must not leak even then).
fn redacted_store_url(url: &SecretString) -> String {
    let Ok(mut parsed) = Url::parse(url.expose_secret().trim()) else {
        return HIDDEN.to_owned();
    };
    if parsed.password().is_some() && parsed.set_password(Some(HIDDEN)).is_err() {
        return HIDDEN.to_owned();
    }
    let has_password_param = parsed
        .query_pairs()
        .any(|(key, _)| key.eq_ignore_ascii_case("password"));
    if has_password_param {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let hidden = key.eq_ignore_ascii_case("password");
                let value = if hidden {
                    HIDDEN.to_owned()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// The contact-linking keys.
fn contacts(add: &mut impl FnMut(&str, String), linking: &ContactLinking) {
    add("crm.link_contacts", linking.link_contacts.to_string());
    add(
        "crm.create_missing_contacts",
        linking.create_missing_contacts.to_string(),
    );
}
