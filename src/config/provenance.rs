//! Which layer set each key: what error messages cite as the value's origin.
//!
//! Invariant: the answer follows the same precedence as the layering itself (`CALSYNC__`
//! variables, then aliases, then the file), so the origin named in an error is the one whose
//! value was used.

use std::path::PathBuf;

use super::error::Origin;
use super::sources::EnvLayer;

/// The layers of one load and the keys they set.
pub(super) struct Provenance {
    /// The config file, if one was read.
    pub file: Option<PathBuf>,
    /// The aliases that were set (lowest environment layer).
    pub aliases: EnvLayer,
    /// The `CALSYNC__` variables (highest layer).
    pub prefixed: EnvLayer,
    /// A variable that appended to a key after layering, and that key
    /// (`NYLAS_WEBHOOK_SECRET` → `nylas.webhook_secrets`).
    pub appended: Option<(String, &'static str)>,
    /// Every non-table value set by some layer, as a dotted path.
    pub set_keys: Vec<String>,
}

impl Provenance {
    /// Where the value of `key` (or, for a table, of the keys under it) came from.
    /// An index suffix (`nylas.webhook_secrets[1]`) is ignored.
    pub fn origin(&self, key: &str) -> Origin {
        let key = key.split('[').next().unwrap_or(key);
        let from_layer = |layer: &EnvLayer| {
            layer.var_for(key).map(str::to_owned).or_else(|| {
                let nested = format!("{key}.");
                layer
                    .0
                    .iter()
                    .rev()
                    .find(|entry| entry.key.starts_with(&nested))
                    .map(|entry| entry.var.clone())
            })
        };
        if let Some(var) = from_layer(&self.prefixed).or_else(|| from_layer(&self.aliases)) {
            return Origin::Env(var);
        }
        match (&self.file, &self.appended) {
            (Some(path), _) if self.is_set(key) => Origin::File(path.clone()),
            (_, Some((var, appended_key))) if *appended_key == key => Origin::Env(var.clone()),
            _ => Origin::Default,
        }
    }

    /// Whether some layer set `key`, or a key under it.
    pub fn is_set(&self, key: &str) -> bool {
        let nested = format!("{key}.");
        self.set_keys
            .iter()
            .any(|set| set == key || set.starts_with(&nested))
    }

    /// The keys set under `section` (without the section prefix), e.g. `["kind", "path"]`.
    pub fn keys_under<'a>(&'a self, section: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.set_keys.iter().filter_map(move |key| {
            key.strip_prefix(section)
                .and_then(|rest| rest.strip_prefix('.'))
        })
    }
}
