//! Tests of configuration loading: sources and precedence (`layering`), every error class
//! (`errors`), redaction (`redaction`) and the example file (`example`).

mod errors;
mod example;
mod layering;
mod redaction;

use std::collections::HashMap;
use std::path::PathBuf;

use tempfile::TempDir;

use super::{ConfigError, LoadOptions, Settings, load};

/// The base URL the tests give the default `rest` CRM kind, which requires one.
pub(super) const CRM_URL: &str = "https://crm.example.com";

/// An environment map from pairs.
pub(super) fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// A TOML file in its own temporary directory (kept alive by the returned guard).
pub(super) struct TomlFile {
    _dir: TempDir,
    pub path: PathBuf,
}

pub(super) fn toml_file(text: &str) -> TomlFile {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("calsync.toml");
    std::fs::write(&path, text).expect("write the config file");
    TomlFile { _dir: dir, path }
}

/// Loads from an optional file text and an environment.
pub(super) fn load_from(
    file: Option<&str>,
    vars: &[(&str, &str)],
) -> Result<Settings, ConfigError> {
    let file = file.map(toml_file);
    load(&LoadOptions {
        config_path: file.as_ref().map(|file| file.path.clone()),
        env: env(vars),
    })
}

/// Loads a file expected to fail; returns the error and the file's path (for messages).
pub(super) fn file_error(text: &str, vars: &[(&str, &str)]) -> (ConfigError, PathBuf) {
    let file = toml_file(text);
    let result = load(&LoadOptions {
        config_path: Some(file.path.clone()),
        env: env(vars),
    });
    match result {
        Ok(_) => panic!("expected an error loading {text:?}"),
        Err(error) => (error, file.path.clone()),
    }
}

/// Loads an environment expected to fail (no file).
pub(super) fn env_error(vars: &[(&str, &str)]) -> ConfigError {
    match load_from(None, vars) {
        Ok(_) => panic!("expected an error loading {vars:?}"),
        Err(error) => error,
    }
}

/// The error and its causes, joined by `": "` (how `anyhow` prints them with `{:#}`).
pub(super) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
