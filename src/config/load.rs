//! Loading: layer the sources with the `config` crate, reject unknown keys, deserialize the file
//! shape, then validate it into [`Settings`].
//!
//! Invariants: precedence is defaults < file < aliases < `CALSYNC__` variables (the environment
//! always beats the file); the process environment is read only by
//! [`LoadOptions::from_process`], so [`load`] is deterministic given its options; every error
//! names the key and the layer it came from.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use config::{Config, Map, Value, ValueKind};
use secrecy::SecretString;

use super::Settings;
use super::error::ConfigError;
use super::provenance::Provenance;
use super::raw::{self, RawSettings, Section};
use super::sources::{EnvLayer, TomlFile, WEBHOOK_SECRET_ALIAS};
use super::validate;

/// The variable naming the config file when `--config` is not given.
pub const CONFIG_PATH_VAR: &str = "CALSYNC_CONFIG";

/// Where [`load`] reads from.
#[derive(Clone, Default)]
pub struct LoadOptions {
    /// `--config PATH`; when `None`, `CALSYNC_CONFIG` from `env` (if set and not empty).
    /// With neither, no file is read.
    pub config_path: Option<PathBuf>,
    /// The environment: aliases, `CALSYNC__` variables and `CALSYNC_CONFIG`.
    pub env: HashMap<String, String>,
}

impl LoadOptions {
    /// Options reading this process's environment (variables that are not valid UTF-8 are
    /// skipped: none of ours can be).
    pub fn from_process(config_path: Option<PathBuf>) -> Self {
        let env = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        LoadOptions { config_path, env }
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
            .finish()
    }
}

/// Loads and validates the settings from the sources in `options`.
pub fn load(options: &LoadOptions) -> Result<Settings, ConfigError> {
    let path = options.resolved_config_path();
    let file = path.as_deref().map(TomlFile::read).transpose()?;
    let aliases = EnvLayer::aliases(&options.env);
    let prefixed = EnvLayer::prefixed(&options.env)?;

    let mut builder = Config::builder();
    if let Some(file) = file {
        builder = builder.add_source(file);
    }
    let merged = builder
        .add_source(aliases.clone())
        .add_source(prefixed.clone())
        .build()
        .map_err(ConfigError::Layering)?;

    let mut provenance = Provenance {
        file: path,
        aliases,
        prefixed,
        appended: None,
        set_keys: Vec::new(),
    };
    let root = match &merged.cache.kind {
        ValueKind::Table(root) => root,
        _ => {
            return Err(ConfigError::invalid(
                "configuration",
                provenance.origin(""),
                "not a table",
            ));
        }
    };
    collect_leaves(root, "", &mut provenance.set_keys);
    check_keys(root, "", &provenance)?;

    let mut raw: RawSettings = merged
        .try_deserialize()
        .map_err(|error| deserialize_error(error, &provenance))?;
    append_webhook_secret(&mut raw, &options.env, &mut provenance);
    validate::settings(raw, &provenance)
}

/// `NYLAS_WEBHOOK_SECRET` adds one secret to the list from the file, unless
/// `CALSYNC__NYLAS__WEBHOOK_SECRETS` set the whole list (the higher layer wins).
fn append_webhook_secret(
    raw: &mut RawSettings,
    env: &HashMap<String, String>,
    provenance: &mut Provenance,
) {
    const KEY: &str = "nylas.webhook_secrets";
    let Some(secret) = env
        .get(WEBHOOK_SECRET_ALIAS)
        .filter(|secret| !secret.is_empty())
    else {
        return;
    };
    if provenance.prefixed.var_for(KEY).is_some() {
        return;
    }
    raw.nylas
        .webhook_secrets
        .get_or_insert_with(Vec::new)
        .push(SecretString::from(secret.clone()));
    provenance.appended = Some((WEBHOOK_SECRET_ALIAS.to_owned(), KEY));
}

/// The dotted path of `key` in the table at `prefix`.
fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Collects the dotted paths of every non-table value under `table`.
fn collect_leaves(table: &Map<String, Value>, prefix: &str, leaves: &mut Vec<String>) {
    for (key, value) in table {
        let path = join(prefix, key);
        match &value.kind {
            ValueKind::Table(inner) => collect_leaves(inner, &path, leaves),
            _ => leaves.push(path),
        }
    }
}

/// Checks every key of `table` (at dotted `prefix`) against the sections of the file shape.
/// Keys are visited in sorted order, so the error is deterministic.
fn check_keys(
    table: &Map<String, Value>,
    prefix: &str,
    provenance: &Provenance,
) -> Result<(), ConfigError> {
    let section: &Section = raw::section(prefix).ok_or_else(|| ConfigError::UnknownKey {
        key: prefix.to_owned(),
        origin: provenance.origin(prefix),
    })?;
    let mut keys: Vec<&String> = table.keys().collect();
    keys.sort();
    for key in keys {
        let path = join(prefix, key);
        if !(section.keys)().contains(&key.as_str()) {
            return Err(ConfigError::UnknownKey {
                origin: provenance.origin(&path),
                key: path,
            });
        }
        match (&table[key].kind, raw::section(&path)) {
            (ValueKind::Table(inner), Some(_)) => check_keys(inner, &path, provenance)?,
            (_, Some(_)) => {
                let origin = provenance.origin(&path);
                return Err(ConfigError::invalid(
                    &path,
                    origin,
                    "expected a table of keys",
                ));
            }
            (_, None) => {}
        }
    }
    Ok(())
}

/// Rewrites a deserialization error of the `config` crate so that it names the key and its
/// origin. Keys are all checked beforehand, so what remains are values of the wrong shape (a
/// table where text is expected, a number where a list is expected).
fn deserialize_error(error: config::ConfigError, provenance: &Provenance) -> ConfigError {
    match error {
        config::ConfigError::Type {
            key,
            unexpected,
            expected,
            ..
        } => {
            let key = key.unwrap_or_else(|| "configuration".to_owned());
            let problem = format!("expected {expected}, found {unexpected}");
            ConfigError::invalid(&key, provenance.origin(&key), problem)
        }
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => ConfigError::invalid(&key, provenance.origin(&key), error.to_string()),
        other => ConfigError::Layering(other),
    }
}
