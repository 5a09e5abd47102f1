//! One load in progress: the merged tree, and every problem found so far.
//!
//! Invariants: a problem is reported once per key (a second error about a key already reported,
//! or holding a placeholder, is dropped); a value that failed is removed from the tree, so that
//! reading its table again applies the default and goes on to the next problem; every error
//! names the key as users write it and the layer its value came from.

use std::collections::BTreeSet;

use toml::Value;

use super::de::{DeError, Node, Problem};
use super::error::{ConfigError, ConfigErrors, ConfigWarning, Origin};
use super::keys;
use super::sources::{
    CRM_KEY_ALIAS, EnvLayers, WEBHOOK_SECRET_ALIAS, WEBHOOK_SECRETS_KEY, env_names, env_var,
};
use super::tree::Tree;

/// What a placeholder stands for: a required key that is missing (already reported), set so
/// the rest of its table is still checked. It is valid text, path and URL.
const PLACEHOLDER: &str = "https://calsync.invalid/";

/// One load in progress: the tree, and what was found wrong so far.
#[derive(Default)]
pub(super) struct Loading {
    pub tree: Tree,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigWarning>,
    /// Keys already reported (or holding a placeholder): no second error about them.
    reported: BTreeSet<String>,
    placeholders: BTreeSet<String>,
    /// Every key calsync knows, for "did you mean".
    known: Vec<String>,
}

impl Loading {
    /// A load that knows the keys in `known` (for suggestions).
    pub fn new(known: Vec<String>) -> Self {
        Loading {
            known,
            ..Loading::default()
        }
    }

    /// Whether a problem was found.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Records an error found outside the tree (the file, a variable's name).
    pub fn error(&mut self, error: ConfigError) {
        self.errors.push(error);
    }

    /// The warnings so far, handed over.
    pub fn take_warnings(&mut self) -> Vec<ConfigWarning> {
        std::mem::take(&mut self.warnings)
    }

    /// Every problem found, and the warnings.
    pub fn into_errors(self) -> ConfigErrors {
        ConfigErrors {
            errors: self.errors,
            warnings: self.warnings,
        }
    }

    /// Warns about the `CALSYNC_` variables calsync does not read, naming the likely setting.
    pub fn warn_ignored(&mut self, ignored: &[String]) {
        for var in ignored {
            let wanted = var.trim_start_matches("CALSYNC_");
            let suggestion = keys::closest(wanted, self.known.iter().map(String::as_str));
            self.warnings.push(ConfigWarning::IgnoredVariable {
                var: var.clone(),
                suggestion: suggestion.map(|key| env_var(&key)),
            });
        }
    }

    /// Adds the aliases, the `CALSYNC__` variables, then `NYLAS_WEBHOOK_SECRET`.
    pub fn add_environment(&mut self, layers: EnvLayers) {
        for entry in layers
            .aliases
            .into_iter()
            .chain(layers.prefixed.iter().cloned())
        {
            let origin = Origin::Env(entry.var);
            self.tree
                .set(&entry.key, Value::String(entry.value), origin);
        }
        let listed = layers.prefixed.iter().any(|e| e.key == WEBHOOK_SECRETS_KEY);
        if let Some(secret) = layers.webhook_secret.filter(|_| !listed) {
            self.append_webhook_secret(secret);
        }
    }

    /// `NYLAS_WEBHOOK_SECRET` adds one secret to the list from the file (a `CALSYNC__` list
    /// replaces both: the higher layer wins).
    fn append_webhook_secret(&mut self, secret: String) {
        let origin = Origin::Env(WEBHOOK_SECRET_ALIAS.to_owned());
        let mut items = match self.tree.get(WEBHOOK_SECRETS_KEY) {
            None => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(Value::String(text)) => text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(Value::from)
                .collect(),
            // A value of another type is reported as it is.
            Some(_) => return,
        };
        let listed_origin = self.tree.origin(WEBHOOK_SECRETS_KEY);
        items.push(Value::String(secret));
        let index = items.len() - 1;
        let list_origin = match listed_origin {
            Origin::Default => origin.clone(),
            listed => listed,
        };
        self.tree
            .set(WEBHOOK_SECRETS_KEY, Value::Array(items), list_origin);
        self.tree
            .set_item_origin(WEBHOOK_SECRETS_KEY, index, origin);
    }

    /// Reads the table at `key` with `read`, reporting each problem: a bad value is dropped
    /// (its default applies) and a missing one gets a placeholder, and the table is read again,
    /// until it reads. `when` says when a missing key is required; `credential` is the key
    /// `CRM_API_KEY` also sets. `None` when a problem was found.
    pub fn read<T>(
        &mut self,
        key: &str,
        when: &str,
        credential: Option<&str>,
        read: impl Fn(Node) -> Result<T, DeError>,
    ) -> Option<T> {
        let mut clean = true;
        loop {
            let table = self.tree.get(key).cloned();
            let table = table.unwrap_or_else(|| Value::Table(toml::Table::new()));
            let error = match read(Node::new(table, key)) {
                Ok(value) => return clean.then_some(value),
                Err(error) => error,
            };
            clean = false;
            let failed = error.full_key();
            match error.problem {
                Problem::Missing(field) => {
                    if self.placeholders.contains(&failed) {
                        return None;
                    }
                    let mut env = env_names(&self.tree.written_key(&failed));
                    if credential == Some(field) {
                        env.push_str(&format!(" or {CRM_KEY_ALIAS}"));
                    }
                    self.missing(&failed, when.to_owned(), env);
                    self.placeholder(&failed);
                }
                problem => {
                    self.report(&failed, problem);
                    if !self.tree.remove(&failed) {
                        return None;
                    }
                }
            }
        }
    }

    fn report(&mut self, key: &str, problem: Problem) {
        match problem {
            Problem::Invalid(problem) => self.invalid(key, problem),
            Problem::Unknown => {
                let known = std::mem::take(&mut self.known);
                self.unknown(key, known.iter().map(String::as_str));
                self.known = known;
            }
            Problem::Missing(_) => {}
        }
    }

    /// Sets a placeholder at `key` (a required key that is missing), so that the rest of its
    /// table is still checked; nothing is reported about it.
    pub fn placeholder(&mut self, key: &str) {
        let value = Value::String(PLACEHOLDER.to_owned());
        self.tree.set(key, value, Origin::Default);
        self.placeholders.insert(key.to_owned());
        self.reported.insert(key.to_owned());
    }

    /// Reports that the value at `key` cannot be used.
    pub fn invalid(&mut self, key: &str, problem: String) {
        if !self.reported.insert(key.to_owned()) {
            return;
        }
        self.errors.push(ConfigError::InvalidValue {
            key: self.tree.written_key(key),
            origin: self.tree.origin(key),
            problem,
        });
    }

    /// Reports that `key` is required (`when`: under which condition) and not set.
    pub fn missing(&mut self, key: &str, when: String, env: String) {
        if !self.reported.insert(key.to_owned()) {
            return;
        }
        self.errors.push(ConfigError::Missing {
            key: self.tree.written_key(key),
            when,
            env,
        });
    }

    /// Reports a key calsync does not know, with the closest of `candidates`.
    pub fn unknown<'c>(&mut self, key: &str, candidates: impl Iterator<Item = &'c str>) {
        let written = self.tree.written_key(key);
        if !self.reported.insert(key.to_owned()) {
            return;
        }
        let origin = self.tree.origin(key);
        let suggestion = keys::closest(&written, candidates).map(|known| match &origin {
            Origin::Env(_) => env_var(&known),
            _ => known,
        });
        self.errors.push(ConfigError::UnknownKey {
            key: written,
            origin,
            suggestion,
        });
    }

    /// A `[crm]` key of another kind than `kind`: an error from the file, a warning from the
    /// environment (which is often shared between deployments).
    pub fn unused(&mut self, key: &str, kind: &str) {
        let origin = self.tree.origin(key);
        let (key, kind) = (key.to_owned(), kind.to_owned());
        match origin {
            Origin::Env(_) => {
                let warning = ConfigWarning::UnusedKey { key, kind, origin };
                self.warnings.push(warning);
            }
            _ => {
                self.reported.insert(key.clone());
                self.errors
                    .push(ConfigError::UnusedKey { key, kind, origin });
            }
        }
    }
}
