//! Tests of configuration loading: sources and precedence (`layering`), every error class
//! (`errors`), several problems at once and warnings (`report`), redaction (`redaction`), the
//! example file (`example`), and arbitrary input (`arbitrary`).

mod arbitrary;
mod crm_kinds;
mod deserializer;
mod errors;
mod example;
mod layering;
mod redaction;
mod report;

use std::collections::HashMap;
use std::path::PathBuf;

use tempfile::TempDir;

use super::{ConfigErrors, LoadOptions, Settings, load};

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
) -> Result<Settings, ConfigErrors> {
    let file = file.map(toml_file);
    load(&LoadOptions {
        config_path: file.as_ref().map(|file| file.path.clone()),
        env: env(vars),
        ..LoadOptions::default()
    })
}

/// Loads a file expected to fail; returns the error and the file's path (for messages).
pub(super) fn file_error(text: &str, vars: &[(&str, &str)]) -> (ConfigErrors, PathBuf) {
    let file = toml_file(text);
    let result = load(&LoadOptions {
        config_path: Some(file.path.clone()),
        env: env(vars),
        ..LoadOptions::default()
    });
    match result {
        Ok(_) => panic!("expected an error loading {text:?}"),
        Err(error) => (error, file.path.clone()),
    }
}

/// Loads an environment expected to fail (no file).
pub(super) fn env_error(vars: &[(&str, &str)]) -> ConfigErrors {
    match load_from(None, vars) {
        Ok(_) => panic!("expected an error loading {vars:?}"),
        Err(error) => error,
    }
}

/// Every error of `errors`, one per line, with its causes.
pub(super) fn chain(errors: &ConfigErrors) -> String {
    errors.lines().join("\n")
}
