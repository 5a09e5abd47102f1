//! Validation: the file shape ([`RawSettings`]) becomes the typed [`Settings`], with the built-in
//! defaults for what no layer set.
//!
//! Invariants: the defaults live here and only here; every check that involves one key or
//! several (`retry_initial <= retry_max`, the keys of the chosen CRM kind) is made before
//! start-up, so a `Settings` value is always usable as is.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::error::ConfigError;
use super::provenance::Provenance;
use super::raw::{RawLog, RawNylas, RawReconcile, RawServer, RawSettings, RawStore, RawSync};
use super::values::{Parsed, Values};
use super::{
    CalendarSelection, FetchPolicy, LogFormat, LogSettings, NylasSettings, ReconcileSettings,
    ServerSettings, Settings, StoreSettings, SyncSettings,
};
use crate::telemetry;

/// The values of `nylas.fetch`.
pub(super) const FETCH_POLICIES: &[(&str, FetchPolicy)] = &[
    ("always", FetchPolicy::Always),
    ("when_incomplete", FetchPolicy::WhenIncomplete),
];
/// The values of `sync.calendars`.
pub(super) const CALENDAR_SELECTIONS: &[(&str, CalendarSelection)] = &[
    ("all", CalendarSelection::All),
    ("primary", CalendarSelection::Primary),
];
/// The values of `log.format`.
pub(super) const LOG_FORMATS: &[(&str, LogFormat)] =
    &[("json", LogFormat::Json), ("text", LogFormat::Text)];

const MINUTE: u64 = 60;
const DAY: u64 = 24 * 60 * MINUTE;

/// Validates `raw` into settings; `provenance` says where each value came from.
pub(super) fn settings(raw: RawSettings, provenance: &Provenance) -> Parsed<Settings> {
    let values = Values(provenance);
    Ok(Settings {
        server: server(raw.server, &values)?,
        nylas: nylas(raw.nylas, &values)?,
        store: store(raw.store, &values)?,
        crm: super::crm::crm(raw.crm, &values)?,
        sync: sync(raw.sync, &values)?,
        reconcile: reconcile(raw.reconcile, &values)?,
        log: log(raw.log, &values)?,
    })
}

fn server(raw: RawServer, v: &Values<'_>) -> Parsed<ServerSettings> {
    Ok(ServerSettings {
        listen: v.socket_addr("server.listen", raw.listen, "0.0.0.0:3000")?,
        webhook_path: v.url_path("server.webhook_path", raw.webhook_path, "/webhooks/nylas")?,
        max_body_bytes: v.positive_integer("server.max_body_bytes", raw.max_body_bytes, 4 << 20)?,
        shutdown_timeout: v.duration(
            "server.shutdown_timeout",
            raw.shutdown_timeout,
            Duration::from_secs(20),
        )?,
        request_timeout: v.positive_duration(
            "server.request_timeout",
            raw.request_timeout,
            Duration::from_secs(30),
        )?,
        max_connections: v.positive_integer("server.max_connections", raw.max_connections, 1024)?,
    })
}

fn nylas(raw: RawNylas, v: &Values<'_>) -> Parsed<NylasSettings> {
    let api_uri = raw
        .api_uri
        .unwrap_or_else(|| "https://api.us.nylas.com".to_owned());
    Ok(NylasSettings {
        api_uri: v.http_url("nylas.api_uri", &api_uri)?,
        api_key: v.secret("nylas.api_key", raw.api_key)?,
        webhook_secrets: v.secrets("nylas.webhook_secrets", raw.webhook_secrets)?,
        fetch: v.choice(
            "nylas.fetch",
            raw.fetch,
            FetchPolicy::Always,
            FETCH_POLICIES,
        )?,
        timeout: v.positive_duration("nylas.timeout", raw.timeout, Duration::from_secs(10))?,
        requests_per_second: v.integer("nylas.requests_per_second", raw.requests_per_second, 20)?,
    })
}

fn store(raw: RawStore, v: &Values<'_>) -> Parsed<StoreSettings> {
    const KEY: &str = "store.url";
    let url: SecretString = match raw.url {
        Some(url) => url.expose_secret().trim().to_owned().into(),
        None => "sqlite://calsync.db".to_owned().into(),
    };
    // The URL may hold a password: errors describe it but never echo it.
    let parsed = url::Url::parse(url.expose_secret()).map_err(|source| {
        ConfigError::invalid_because(KEY, v.origin(KEY), "invalid URL", source)
    })?;
    if !matches!(parsed.scheme(), "sqlite" | "postgres" | "postgresql") {
        let scheme = parsed.scheme();
        let problem = format!("unsupported scheme {scheme:?}, expected sqlite or postgres");
        return Err(v.invalid(KEY, problem));
    }
    Ok(StoreSettings {
        url,
        keep_notifications: v.duration(
            "store.keep_notifications",
            raw.keep_notifications,
            Duration::from_secs(7 * DAY),
        )?,
    })
}

fn sync(raw: RawSync, v: &Values<'_>) -> Parsed<SyncSettings> {
    let retry_initial = v.positive_duration(
        "sync.retry_initial",
        raw.retry_initial,
        Duration::from_secs(1),
    )?;
    let retry_max = v.duration(
        "sync.retry_max",
        raw.retry_max,
        Duration::from_secs(10 * MINUTE),
    )?;
    if retry_initial > retry_max {
        let problem = format!(
            "{} is longer than sync.retry_max ({}, {})",
            humantime::format_duration(retry_initial),
            humantime::format_duration(retry_max),
            v.origin("sync.retry_max"),
        );
        return Err(v.invalid("sync.retry_initial", problem));
    }
    Ok(SyncSettings {
        workers: v.positive_integer("sync.workers", raw.workers, 8)?,
        max_attempts: v.positive_integer("sync.max_attempts", raw.max_attempts, 12)?,
        retry_initial,
        retry_max,
        lease: v.positive_duration("sync.lease", raw.lease, Duration::from_secs(60))?,
        crm_requests_per_second: v.integer(
            "sync.crm_requests_per_second",
            raw.crm_requests_per_second,
            0,
        )?,
        calendars: v.choice(
            "sync.calendars",
            raw.calendars,
            CalendarSelection::All,
            CALENDAR_SELECTIONS,
        )?,
        exclude_read_only_calendars: v.boolean(
            "sync.exclude_read_only_calendars",
            raw.exclude_read_only_calendars,
            false,
        )?,
        internal_domains: internal_domains(v, raw.internal_domains)?,
    })
}

/// Domains are compared case-insensitively: they are trimmed and lowercased here.
fn internal_domains(v: &Values<'_>, raw: Option<Vec<String>>) -> Parsed<Vec<String>> {
    const KEY: &str = "sync.internal_domains";
    let mut domains = Vec::new();
    for raw_domain in raw.unwrap_or_default() {
        let domain = raw_domain.trim().to_ascii_lowercase();
        if domain.is_empty() || domain.contains(['@', ' ', '/']) {
            let problem = format!("{raw_domain:?} is not a domain name (like \"example.com\")");
            return Err(v.invalid(KEY, problem));
        }
        domains.push(domain);
    }
    Ok(domains)
}

fn reconcile(raw: RawReconcile, v: &Values<'_>) -> Parsed<ReconcileSettings> {
    Ok(ReconcileSettings {
        interval: v.duration(
            "reconcile.interval",
            raw.interval,
            Duration::from_secs(15 * MINUTE),
        )?,
        window_days_back: v.integer("reconcile.window_days.back", raw.window_days.back, 30)?,
        window_days_ahead: v.integer("reconcile.window_days.ahead", raw.window_days.ahead, 365)?,
        safety_margin: v.duration(
            "reconcile.safety_margin",
            raw.safety_margin,
            Duration::from_secs(5 * MINUTE),
        )?,
    })
}

fn log(raw: RawLog, v: &Values<'_>) -> Parsed<LogSettings> {
    const LEVEL: &str = "log.level";
    let level = raw
        .level
        .map_or_else(|| "info".to_owned(), |level| level.trim().to_owned());
    if let Err(source) = telemetry::env_filter(&level) {
        let problem = format!("invalid filter directive {level:?}");
        return Err(ConfigError::invalid_because(
            LEVEL,
            v.origin(LEVEL),
            problem,
            source,
        ));
    }
    Ok(LogSettings {
        format: v.choice("log.format", raw.format, LogFormat::Json, LOG_FORMATS)?,
        level,
    })
}
