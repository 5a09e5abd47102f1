//! Loading: merge the layers into one tree, deserialize each table into its typed struct
//! (`loading` keeps the tree and the problems), check what involves several keys, and report
//! every problem at once.
//!
//! Invariants: precedence is defaults < file < aliases < `CALSYNC__` variables (the environment
//! always beats the file); the process environment is read only by
//! [`LoadOptions::from_process`], so [`load`] is deterministic given its options; every error
//! names the key and the layer it came from; a problem is reported once (a value that failed
//! is dropped and the table read again, so one bad value neither hides the next nor causes a
//! second error about the same key).

use std::collections::HashMap;
use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;

use serde::de::DeserializeOwned;

use super::error::ConfigErrors;
use super::keys::SECTIONS;
use super::loading::Loading;
use super::sources::{self, CONFIG_PATH_VAR, EnvLayers};
use super::{CrmSettings, LogFormat, LogSettings, Settings, SyncSettings, crm};

/// Where [`load`] reads from.
#[derive(Clone, Default)]
pub struct LoadOptions {
    /// `--config PATH`; when `None`, `CALSYNC_CONFIG` from `env` (if set and not empty).
    /// With neither, no file is read.
    pub config_path: Option<PathBuf>,
    /// The environment: aliases, `CALSYNC__` variables and `CALSYNC_CONFIG`.
    pub env: HashMap<String, String>,
    /// Whether the log lines go to a terminal: the default `log.format` is then `text`,
    /// otherwise `json`.
    pub logs_to_terminal: bool,
}

impl LoadOptions {
    /// Options reading this process's environment (variables that are not valid UTF-8 are
    /// skipped: none of ours can be), for logs written to `log_stream`.
    pub fn from_process(config_path: Option<PathBuf>, log_stream: &impl IsTerminal) -> Self {
        let env = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        LoadOptions {
            config_path,
            env,
            logs_to_terminal: log_stream.is_terminal(),
        }
    }

    /// The config file to read: `config_path`, else `CALSYNC_CONFIG`.
    pub fn resolved_config_path(&self) -> Option<PathBuf> {
        self.config_path.clone().or_else(|| {
            self.env
                .get(CONFIG_PATH_VAR)
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
        })
    }
}

impl fmt::Debug for LoadOptions {
    /// Shows the variable names only: their values may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.env.keys().collect();
        names.sort();
        f.debug_struct("LoadOptions")
            .field("config_path", &self.config_path)
            .field("env", &names)
            .field("logs_to_terminal", &self.logs_to_terminal)
            .finish()
    }
}

/// Loads and validates the settings from the sources in `options`: the settings (with their
/// warnings), or every problem found.
pub fn load(options: &LoadOptions) -> Result<Settings, ConfigErrors> {
    let mut loading = Loading::new(known_keys());
    let mut errors = Vec::new();
    let layers = EnvLayers::read(&options.env, &mut errors);
    errors.into_iter().for_each(|error| loading.error(error));
    loading.warn_ignored(&layers.ignored);
    if let Some(path) = options.resolved_config_path() {
        match sources::read_file(&path) {
            Ok(table) => loading.tree.add_file(table, &path),
            // Without the file, every other message would be a guess.
            Err(error) => loading.error(error),
        }
    }
    if loading.failed() {
        return Err(loading.into_errors());
    }
    loading.add_environment(layers);
    match settings(&mut loading, options.logs_to_terminal) {
        Some(settings) if !loading.failed() => Ok(settings),
        _ => Err(loading.into_errors()),
    }
}

/// Every table, read; `None` when something is wrong (and reported).
fn settings(loading: &mut Loading, logs_to_terminal: bool) -> Option<Settings> {
    unknown_tables(loading);
    let server = section(loading, "server");
    let nylas = section(loading, "nylas");
    let store = section(loading, "store");
    let mut crm = crm::read(loading);
    let sync: Option<SyncSettings> = section(loading, "sync");
    let filter = section(loading, "filter");
    let reconcile = section(loading, "reconcile");
    let mut log: Option<LogSettings> = section(loading, "log");
    if let Some(sync) = &sync {
        check_retry_delays(loading, sync);
        check_coalesce_delays(loading, sync);
        if let Some(crm) = &mut crm {
            check_batch_linger(loading, crm, sync);
        }
    }
    if let Some(log) = log.as_mut()
        && !loading.tree.is_set("log.format")
    {
        log.format = default_log_format(logs_to_terminal);
    }
    Some(Settings {
        server: server?,
        nylas: nylas?,
        store: store?,
        crm: crm?,
        sync: sync?,
        filter: filter?,
        reconcile: reconcile?,
        log: log?,
        warnings: loading.take_warnings(),
    })
}

/// The `log.format` when none is set: `text` for a person at a terminal, `json` for a
/// collector.
pub(super) fn default_log_format(logs_to_terminal: bool) -> LogFormat {
    if logs_to_terminal {
        LogFormat::Text
    } else {
        LogFormat::Json
    }
}

/// Reads the table at `key` into `T`.
fn section<T: DeserializeOwned>(loading: &mut Loading, key: &str) -> Option<T> {
    loading.read(key, "", None, T::deserialize)
}

/// Top-level keys that are not tables calsync has: each value under them is reported, with
/// the closest known key (`servr.listen`: did you mean `server.listen`?).
fn unknown_tables(loading: &mut Loading) {
    let tables: Vec<&str> = SECTIONS
        .iter()
        .map(|(path, _)| *path)
        .filter(|path| !path.contains('.'))
        .chain(["crm"])
        .collect();
    let known = known_keys();
    for key in loading.tree.top_level() {
        if !tables.contains(&key.as_str()) {
            for leaf in loading.tree.leaves(&key) {
                let candidates = tables
                    .iter()
                    .copied()
                    .chain(known.iter().map(String::as_str));
                loading.unknown(&leaf, candidates);
            }
            loading.tree.remove(&key);
        }
    }
}

/// `sync.coalesce_window` must not be longer than `sync.coalesce_max_delay`.
fn check_coalesce_delays(loading: &mut Loading, sync: &SyncSettings) {
    if sync.coalesce_window > sync.coalesce_max_delay {
        let max_origin = loading.tree.origin("sync.coalesce_max_delay");
        let problem = format!(
            "{} is longer than sync.coalesce_max_delay ({}, {max_origin})",
            humantime::format_duration(sync.coalesce_window),
            humantime::format_duration(sync.coalesce_max_delay),
        );
        loading.invalid("sync.coalesce_window", problem);
    }
}

/// `crm.batch_linger` must be at most half of `sync.lease`: a write waiting in a batch holds
/// its meeting's lock (as long as the lease), which must not run out meanwhile. The default is
/// shortened to fit a short lease; a value set too long is an error.
fn check_batch_linger(loading: &mut Loading, crm: &mut CrmSettings, sync: &SyncSettings) {
    let Some(linger) = crm.batch_linger_mut() else {
        return;
    };
    let most = sync.lease / 2;
    if !loading.tree.is_set("crm.batch_linger") {
        *linger = (*linger).min(most);
        return;
    }
    let linger = *linger;
    if linger > most {
        let lease_origin = loading.tree.origin("sync.lease");
        let problem = format!(
            "{} is longer than half of sync.lease ({}, {lease_origin}): a write waiting in a batch holds its meeting's lock",
            humantime::format_duration(linger),
            humantime::format_duration(sync.lease),
        );
        loading.invalid("crm.batch_linger", problem);
    }
}

/// `sync.retry_initial` must not be longer than `sync.retry_max`.
fn check_retry_delays(loading: &mut Loading, sync: &SyncSettings) {
    if sync.retry_initial > sync.retry_max {
        let max_origin = loading.tree.origin("sync.retry_max");
        let problem = format!(
            "{} is longer than sync.retry_max ({}, {max_origin})",
            humantime::format_duration(sync.retry_initial),
            humantime::format_duration(sync.retry_max),
        );
        loading.invalid("sync.retry_initial", problem);
    }
}

/// Every key calsync knows, as dotted paths of values (not tables), `[crm]` keys of every kind
/// included.
pub(super) fn known_keys() -> Vec<String> {
    let is_table = |key: &str| SECTIONS.iter().any(|(path, _)| *path == key);
    let mut keys: Vec<String> = SECTIONS
        .iter()
        .flat_map(|(path, keys)| keys().iter().map(move |key| format!("{path}.{key}")))
        .filter(|key| !is_table(key))
        .collect();
    keys.push("crm.kind".to_owned());
    keys.extend(crm::all_keys().into_iter().map(|key| format!("crm.{key}")));
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_known_once_tables_excluded() {
        let all = known_keys();
        for key in [
            "server.listen",
            "server.request_timeout",
            "server.max_connections",
            "reconcile.window_days.back",
            "crm.kind",
            "crm.base_url",
            "crm.link_contacts",
            "crm.company_domain",
        ] {
            assert!(all.contains(&key.to_owned()), "{key} missing from {all:?}");
        }
        assert!(!all.contains(&"reconcile.window_days".to_owned()));
        assert!(!all.contains(&"crm.contacts".to_owned()));
    }
}
