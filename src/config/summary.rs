//! The redacted summary that `calsync check` prints: every setting as `key = value`, written by
//! serializing the typed settings, so a new key appears in it by itself.
//!
//! Invariant: no secret reaches the summary: the settings serialize secrets as `***` and URLs
//! with their credentials hidden (see `value`); a secret that is not set is `(not set)`.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::Settings;

const NOT_SET: &str = "(not set)";

impl Settings {
    /// Every setting as `(key, value)`: the tables in file order, keys alphabetically within
    /// them (`crm.kind` first), secrets hidden (`***` when set, `(not set)` otherwise). The
    /// `[crm]` keys are those of the configured kind.
    pub fn redacted_summary(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        add(&mut out, "server", &self.server);
        add(&mut out, "nylas", &self.nylas);
        add(&mut out, "store", &self.store);
        out.push(("crm.kind".to_owned(), self.crm.kind().to_owned()));
        add(&mut out, "crm", &self.crm);
        add(&mut out, "sync", &self.sync);
        add(&mut out, "filter", &self.filter);
        add(&mut out, "reconcile", &self.reconcile);
        add(&mut out, "log", &self.log);
        out
    }
}

impl fmt::Debug for Settings {
    /// The redacted summary and the warnings: nothing secret, no credential inside a URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summary = self.redacted_summary();
        let mut debug = f.debug_struct("Settings");
        for (key, value) in &summary {
            debug.field(key, value);
        }
        debug.field("warnings", &self.warnings).finish()
    }
}

/// The keys of `[crm]` kept in a nested struct but written directly under `[crm]`.
const INLINED: &[&str] = &["crm.contacts"];

/// Adds the values of `table` (serialized) under `prefix`.
fn add(out: &mut Vec<(String, String)>, prefix: &str, table: &impl Serialize) {
    match serde_json::to_value(table) {
        Ok(value) => flatten(out, prefix, value),
        // The settings types serialize to JSON by construction; say so rather than hide it.
        Err(error) => out.push((prefix.to_owned(), format!("(cannot be shown: {error})"))),
    }
}

fn flatten(out: &mut Vec<(String, String)>, key: &str, value: Value) {
    match value {
        Value::Object(map) => {
            for (name, inner) in map {
                if key == "crm" && name == "kind" {
                    continue;
                }
                let path = format!("{key}.{name}");
                let path = if INLINED.contains(&path.as_str()) {
                    key.to_owned()
                } else {
                    path
                };
                flatten(out, &path, inner);
            }
        }
        other => out.push((key.to_owned(), text(other))),
    }
}

/// A value as the summary writes it: text without quotes, lists joined by `, `.
fn text(value: Value) -> String {
    match value {
        Value::Null => NOT_SET.to_owned(),
        Value::String(text) => text,
        Value::Array(items) if items.is_empty() => "(none)".to_owned(),
        Value::Array(items) => {
            let items: Vec<String> = items.into_iter().map(text).collect();
            items.join(", ")
        }
        other => other.to_string(),
    }
}
