//! The layers handed to the `config` crate: the TOML file, the convenience aliases and the
//! `CALSYNC__SECTION__KEY` variables.
//!
//! Invariants: the environment is read only from the map given to [`load`](super::load) (tests
//! inject it); every value keeps the name of the file or variable it came from; the `Debug`
//! output of a layer never shows values (they may be secrets).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use config::{Map, Source, Value, ValueKind};

use super::error::ConfigError;

/// Prefix of the variables that set any key: `CALSYNC__SECTION__KEY`.
pub(super) const ENV_PREFIX: &str = "CALSYNC__";
/// Separator of the key segments in a variable name.
const ENV_SEPARATOR: &str = "__";
/// The alias that adds one webhook secret (handled after layering: it appends to a list).
pub(super) const WEBHOOK_SECRET_ALIAS: &str = "NYLAS_WEBHOOK_SECRET";
/// Convenience aliases that set one key each, below the `CALSYNC__` variables.
pub(super) const ALIASES: &[(&str, &str)] = &[
    ("NYLAS_API_KEY", "nylas.api_key"),
    ("NYLAS_API_URI", "nylas.api_uri"),
    ("CRM_API_KEY", "crm.api_key"),
];

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

/// A layer of environment variables.
#[derive(Clone)]
pub(super) struct EnvLayer(pub Vec<EnvEntry>);

impl EnvLayer {
    /// The aliases in `ALIASES` that are set to a non-empty value.
    pub fn aliases(env: &HashMap<String, String>) -> Self {
        let entries = ALIASES
            .iter()
            .filter_map(|(var, key)| {
                let value = env.get(*var).filter(|value| !value.is_empty())?;
                Some(EnvEntry {
                    key: (*key).to_owned(),
                    var: (*var).to_owned(),
                    value: value.clone(),
                })
            })
            .collect();
        EnvLayer(entries)
    }

    /// Every `CALSYNC__SECTION__KEY` variable, sorted by name so that the result does not
    /// depend on the map's order.
    pub fn prefixed(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut entries = Vec::new();
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            entries.push(EnvEntry {
                key: env_key(var, rest)?,
                var: var.clone(),
                value: value.clone(),
            });
        }
        entries.sort_by(|a, b| a.var.cmp(&b.var));
        Ok(EnvLayer(entries))
    }

    /// The variable that set `key` in this layer, if any (the last one wins, as in `collect`).
    pub fn var_for(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|entry| entry.key == key)
            .map(|entry| entry.var.as_str())
    }
}

/// The dotted key of `CALSYNC__SECTION__KEY` (`rest` is the part after the prefix).
fn env_key(var: &str, rest: &str) -> Result<String, ConfigError> {
    let malformed = |problem| ConfigError::MalformedEnvVar {
        var: var.to_owned(),
        problem,
    };
    let mut segments = Vec::new();
    for segment in rest.split(ENV_SEPARATOR) {
        let mut chars = segment.chars();
        let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(malformed(
                "expected CALSYNC__SECTION__KEY: segments separated by \"__\", each starting \
                 with a letter and made of letters, digits and single underscores",
            ));
        }
        segments.push(segment.to_ascii_lowercase());
    }
    Ok(segments.join("."))
}

impl fmt::Debug for EnvLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|entry| &entry.var))
            .finish()
    }
}

impl Source for EnvLayer {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self
            .0
            .iter()
            .map(|entry| {
                let origin = Some(&entry.var);
                (entry.key.clone(), Value::new(origin, entry.value.clone()))
            })
            .collect())
    }
}

/// The parsed TOML file.
#[derive(Clone)]
pub(super) struct TomlFile {
    origin: String,
    table: toml::Table,
}

impl TomlFile {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::FileUnreadable {
            path: path.to_owned(),
            source,
        })?;
        let table = toml::from_str::<toml::Table>(&text)
            .map_err(|error| syntax_error(path.to_owned(), &text, &error))?;
        Ok(TomlFile {
            origin: path.display().to_string(),
            table,
        })
    }
}

/// A TOML error reduced to its message and position: toml's `Display` quotes the offending
/// line, which may hold a secret.
fn syntax_error(path: PathBuf, text: &str, error: &toml::de::Error) -> ConfigError {
    let offset = error.span().map_or(0, |span| span.start).min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    ConfigError::FileSyntax {
        path,
        line,
        column,
        message: error.message().to_owned(),
    }
}

impl fmt::Debug for TomlFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TomlFile")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Source for TomlFile {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(convert_table(&self.origin, &self.table))
    }
}

fn convert_table(origin: &String, table: &toml::Table) -> Map<String, Value> {
    table
        .iter()
        .map(|(key, value)| (key.clone(), convert_value(origin, value)))
        .collect()
}

fn convert_value(origin: &String, value: &toml::Value) -> Value {
    let kind = match value {
        toml::Value::String(text) => ValueKind::String(text.clone()),
        toml::Value::Integer(number) => ValueKind::I64(*number),
        toml::Value::Float(number) => ValueKind::Float(*number),
        toml::Value::Boolean(flag) => ValueKind::Boolean(*flag),
        toml::Value::Datetime(datetime) => ValueKind::String(datetime.to_string()),
        toml::Value::Array(items) => ValueKind::Array(
            items
                .iter()
                .map(|item| convert_value(origin, item))
                .collect(),
        ),
        toml::Value::Table(table) => ValueKind::Table(convert_table(origin, table)),
    };
    Value::new(Some(origin), kind)
}
