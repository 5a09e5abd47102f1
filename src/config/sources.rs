//! The layers: the TOML file, the convenience aliases and the `CALSYNC__SECTION__KEY`
//! variables, read into dotted keys and values.
//!
//! Invariants: the environment is read only from the map given to [`load`](super::load) (tests
//! inject it); a variable that looks meant for calsync but is not read (`CALSYNC_SYNC_WORKERS`)
//! is a warning, never silently ignored; a TOML error never quotes the file's text.

use std::collections::HashMap;
use std::path::Path;

use super::error::ConfigError;

/// Prefix of the variables that set any key: `CALSYNC__SECTION__KEY`.
pub(super) const ENV_PREFIX: &str = "CALSYNC__";
/// Separator of the key segments in a variable name.
const ENV_SEPARATOR: &str = "__";
/// The variable naming the config file when `--config` is not given.
pub const CONFIG_PATH_VAR: &str = "CALSYNC_CONFIG";
/// The alias that adds one webhook secret (to the list, rather than setting it).
pub(super) const WEBHOOK_SECRET_ALIAS: &str = "NYLAS_WEBHOOK_SECRET";
/// The key [`WEBHOOK_SECRET_ALIAS`] adds to.
pub(super) const WEBHOOK_SECRETS_KEY: &str = "nylas.webhook_secrets";
/// The alias that sets `crm.api_key`, and, for kinds whose credential has another name, that
/// credential.
pub(super) const CRM_KEY_ALIAS: &str = "CRM_API_KEY";
/// Convenience aliases that set one key each, below the `CALSYNC__` variables.
const ALIASES: &[(&str, &str)] = &[
    ("NYLAS_API_KEY", "nylas.api_key"),
    ("NYLAS_API_URI", "nylas.api_uri"),
    (CRM_KEY_ALIAS, "crm.api_key"),
];

/// The alias variable that sets `key`, if any.
pub(super) fn alias_of(key: &str) -> Option<&'static str> {
    ALIASES
        .iter()
        .chain(&[(WEBHOOK_SECRET_ALIAS, WEBHOOK_SECRETS_KEY)])
        .find(|(_, aliased)| *aliased == key)
        .map(|(var, _)| *var)
}

/// One key set by one environment variable.
#[derive(Clone)]
pub(super) struct EnvEntry {
    /// Dotted key, e.g. `sync.workers`.
    pub key: String,
    /// The variable's name.
    pub var: String,
    /// Its value, as text.
    pub value: String,
}

/// The variables of the environment that calsync reads, by layer.
pub(super) struct EnvLayers {
    /// The aliases that are set to a non-empty value.
    pub aliases: Vec<EnvEntry>,
    /// Every `CALSYNC__SECTION__KEY` variable, sorted by name.
    pub prefixed: Vec<EnvEntry>,
    /// `NYLAS_WEBHOOK_SECRET`, when set and not empty.
    pub webhook_secret: Option<String>,
    /// `CALSYNC_` variables that calsync does not read (see [`is_ignored`]), sorted.
    pub ignored: Vec<String>,
}

impl EnvLayers {
    /// Reads `env`; a malformed `CALSYNC__` name is an error.
    pub fn read(env: &HashMap<String, String>, errors: &mut Vec<ConfigError>) -> Self {
        let set = |var: &str| env.get(var).filter(|value| !value.is_empty());
        let aliases = ALIASES
            .iter()
            .filter_map(|(var, key)| {
                Some(EnvEntry {
                    key: (*key).to_owned(),
                    var: (*var).to_owned(),
                    value: set(var)?.clone(),
                })
            })
            .collect();
        let mut names: Vec<&String> = env.keys().collect();
        names.sort();
        let mut prefixed = Vec::new();
        let mut ignored = Vec::new();
        for var in names {
            if let Some(rest) = var.strip_prefix(ENV_PREFIX) {
                match env_key(rest) {
                    Ok(key) => prefixed.push(EnvEntry {
                        key,
                        var: var.clone(),
                        value: env[var].clone(),
                    }),
                    Err(problem) => errors.push(ConfigError::MalformedEnvVar {
                        var: var.clone(),
                        problem,
                    }),
                }
            } else if is_ignored(var) {
                ignored.push(var.clone());
            }
        }
        EnvLayers {
            aliases,
            prefixed,
            webhook_secret: set(WEBHOOK_SECRET_ALIAS).cloned(),
            ignored,
        }
    }
}

/// The dotted key of `CALSYNC__SECTION__KEY` (`rest` is the part after the prefix).
fn env_key(rest: &str) -> Result<String, &'static str> {
    let mut segments = Vec::new();
    for segment in rest.split(ENV_SEPARATOR) {
        let mut chars = segment.chars();
        let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(
                "expected CALSYNC__SECTION__KEY: segments separated by \"__\", each starting \
                 with a letter and made of letters, digits and single underscores",
            );
        }
        segments.push(segment.to_ascii_lowercase());
    }
    Ok(segments.join("."))
}

/// Whether `var` looks meant for calsync but is not read: a `CALSYNC_` variable other than
/// `CALSYNC_CONFIG` and the `CALSYNC__` ones (most likely a setting with single underscores).
fn is_ignored(var: &str) -> bool {
    var.starts_with("CALSYNC_") && !var.starts_with(ENV_PREFIX) && var != CONFIG_PATH_VAR
}

/// The environment variable that sets `key`: `CALSYNC__SECTION__KEY`.
pub(super) fn env_var(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.replace('.', ENV_SEPARATOR).to_uppercase()
    )
}

/// The environment variables that set `key`: its alias if it has one, then
/// `CALSYNC__SECTION__KEY`.
pub(super) fn env_names(key: &str) -> String {
    let var = env_var(key);
    match alias_of(key) {
        Some(alias) => format!("{alias} or {var}"),
        None => var,
    }
}

/// Reads and parses the config file at `path`.
pub(super) fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::FileUnreadable {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str::<toml::Table>(&text).map_err(|error| syntax_error(path, &text, &error))
}

/// A TOML error reduced to its message and position: toml's `Display` quotes the offending
/// line, which may hold a secret.
fn syntax_error(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let mut offset = error.span().map_or(0, |span| span.start).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    ConfigError::FileSyntax {
        path: path.to_owned(),
        line,
        column,
        message: error.message().trim().to_owned(),
    }
}
