//! The merged configuration: one TOML table built from the layers, and the origin of every
//! value in it.
//!
//! Invariants: a layer replaces what lower layers set at the same key (the environment always
//! beats the file); the origin recorded for a key is that of the layer whose value is in the
//! tree, so an error names the file or variable whose value failed; a key moved inside the tree
//! (see [`Tree::rename`]) keeps its origin and is still reported under the key users write.

use std::collections::BTreeMap;
use std::path::Path;

use toml::{Table, Value};

use super::de::join;
use super::error::Origin;

/// The merged tree and its provenance.
#[derive(Debug, Default)]
pub(super) struct Tree {
    root: Table,
    /// Origin of each value set by a layer, by dotted key (list items as `key[index]`).
    origins: BTreeMap<String, Origin>,
    /// Keys moved by [`Tree::rename`]: where each is now → the key users write.
    renamed: BTreeMap<String, String>,
}

impl Tree {
    /// Adds the config file's values.
    pub fn add_file(&mut self, table: Table, path: &Path) {
        let origin = Origin::File(path.to_owned());
        let mut leaves = Vec::new();
        collect_leaves(&table, "", &mut leaves);
        for (key, value) in leaves {
            self.set(&key, value, origin.clone());
        }
    }

    /// Sets `key` to `value` from `origin`, creating the tables on the way (and replacing a value
    /// that stands where a table is needed).
    pub fn set(&mut self, key: &str, value: Value, origin: Origin) {
        let segments: Vec<&str> = key.split('.').collect();
        let Some((last, parents)) = segments.split_last() else {
            return;
        };
        let mut table = &mut self.root;
        let mut path = String::new();
        for segment in parents {
            path = join(&path, segment);
            let entry = table
                .entry((*segment).to_owned())
                .or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                *entry = Value::Table(Table::new());
                self.origins.remove(&path);
            }
            let Value::Table(inner) = entry else {
                return;
            };
            table = inner;
        }
        table.insert((*last).to_owned(), value);
        let nested = format!("{key}.");
        let item = format!("{key}[");
        self.origins
            .retain(|known, _| !known.starts_with(&nested) && !known.starts_with(&item));
        self.origins.insert(key.to_owned(), origin);
    }

    /// Records the origin of one item of a list (`nylas.webhook_secrets[2]`).
    pub fn set_item_origin(&mut self, key: &str, index: usize, origin: Origin) {
        self.origins.insert(format!("{key}[{index}]"), origin);
    }

    /// The value at `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let mut segments = key.split('.');
        let first = segments.next()?;
        segments.try_fold(self.root.get(first)?, |value, segment| {
            value.as_table()?.get(segment)
        })
    }

    /// The value at `key`, for changing it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let mut segments = key.split('.');
        let first = segments.next()?;
        segments.try_fold(self.root.get_mut(first)?, |value, segment| {
            value.as_table_mut()?.get_mut(segment)
        })
    }

    /// Removes `key` (a list item's key removes the list); whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let key = key.split('[').next().unwrap_or(key);
        match key.rsplit_once('.') {
            Some((parent, last)) => self
                .get_mut(parent)
                .and_then(Value::as_table_mut)
                .and_then(|table| table.remove(last))
                .is_some(),
            None => self.root.remove(key).is_some(),
        }
    }

    /// Moves the value at `from` to `to`, keeping its origin; errors about `to` name `from`.
    pub fn rename(&mut self, from: &str, to: &str) {
        let Some(value) = self.get(from).cloned() else {
            return;
        };
        let origin = self.origin(from);
        self.remove(from);
        self.set(to, value, origin);
        self.renamed.insert(to.to_owned(), from.to_owned());
    }

    /// The key users write for `key` (which may have been moved, see [`Tree::rename`]).
    pub fn written_key(&self, key: &str) -> String {
        let base = key.split('[').next().unwrap_or(key);
        match self.renamed.get(base) {
            Some(written) => format!("{written}{}", &key[base.len()..]),
            None => key.to_owned(),
        }
    }

    /// The top-level keys, in order.
    pub fn top_level(&self) -> Vec<String> {
        self.root.keys().cloned().collect()
    }

    /// The keys of the table at `key` (none if it is not a table).
    pub fn keys_of(&self, key: &str) -> Vec<String> {
        self.get(key)
            .and_then(Value::as_table)
            .map(|table| table.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The dotted keys of the values (not tables) at or under `key`.
    pub fn leaves(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::Table(table)) if !table.is_empty() => {
                let mut leaves = Vec::new();
                collect_leaves(table, key, &mut leaves);
                leaves.into_iter().map(|(leaf, _)| leaf).collect()
            }
            Some(_) => vec![key.to_owned()],
            None => Vec::new(),
        }
    }

    /// Whether some layer set `key`.
    pub fn is_set(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Where the value of `key` came from: the key itself, else (for a list item) its list,
    /// else (for a table) a value under it, the environment first.
    pub fn origin(&self, key: &str) -> Origin {
        let list = key.split('[').next().unwrap_or(key);
        if let Some(origin) = self.origins.get(key).or_else(|| self.origins.get(list)) {
            return origin.clone();
        }
        let nested = format!("{key}.");
        let under: Vec<&Origin> = self
            .origins
            .iter()
            .filter(|(known, _)| known.starts_with(&nested))
            .map(|(_, origin)| origin)
            .collect();
        under
            .iter()
            .find(|origin| matches!(origin, Origin::Env(_)))
            .or_else(|| under.first())
            .map_or(Origin::Default, |origin| (*origin).clone())
    }
}

/// The dotted keys and values of every non-table value under `table`.
fn collect_leaves(table: &Table, prefix: &str, leaves: &mut Vec<(String, Value)>) {
    for (key, value) in table {
        let path = join(prefix, key);
        match value {
            Value::Table(inner) if !inner.is_empty() => collect_leaves(inner, &path, leaves),
            other => leaves.push((path, other.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Origin {
        Origin::File("c.toml".into())
    }

    fn env(var: &str) -> Origin {
        Origin::Env(var.to_owned())
    }

    #[test]
    fn later_layers_replace_values_and_their_origins() {
        let mut tree = Tree::default();
        let table: Table = toml::from_str("[sync]\nworkers = 2\nlease = \"5s\"\n").unwrap();
        tree.add_file(table, Path::new("c.toml"));
        tree.set(
            "sync.workers",
            Value::from("4"),
            env("CALSYNC__SYNC__WORKERS"),
        );
        assert_eq!(tree.get("sync.workers"), Some(&Value::from("4")));
        assert_eq!(tree.origin("sync.workers"), env("CALSYNC__SYNC__WORKERS"));
        assert_eq!(tree.origin("sync.lease"), file());
        assert_eq!(tree.origin("sync"), env("CALSYNC__SYNC__WORKERS"));
        assert_eq!(tree.origin("sync.calendars"), Origin::Default);

        tree.set("sync", Value::from("3"), env("CALSYNC__SYNC"));
        assert_eq!(tree.origin("sync"), env("CALSYNC__SYNC"));
        assert_eq!(tree.origin("sync.lease"), Origin::Default, "replaced");
        assert!(tree.get("sync.lease").is_none());
    }

    #[test]
    fn a_value_where_a_table_is_needed_is_replaced() {
        let mut tree = Tree::default();
        tree.set("server.listen", Value::from("x"), file());
        tree.set("server.listen.port", Value::from("3"), env("V"));
        assert_eq!(tree.origin("server.listen.port"), env("V"));
        assert!(tree.get("server.listen").is_some_and(Value::is_table));
    }

    #[test]
    fn renamed_keys_keep_origin_and_written_name() {
        let mut tree = Tree::default();
        tree.set("crm.link_contacts", Value::from("yes"), env("V"));
        tree.rename("crm.link_contacts", "crm.contacts.link_contacts");
        assert!(!tree.is_set("crm.link_contacts"));
        assert_eq!(tree.origin("crm.contacts.link_contacts"), env("V"));
        assert_eq!(
            tree.written_key("crm.contacts.link_contacts"),
            "crm.link_contacts"
        );
        assert!(tree.remove("crm.contacts.link_contacts"));
        assert!(!tree.remove("crm.contacts.link_contacts"));
    }

    #[test]
    fn list_items_have_their_own_origin() {
        let mut tree = Tree::default();
        tree.set("nylas.webhook_secrets", Value::Array(vec![]), file());
        tree.set_item_origin("nylas.webhook_secrets", 0, env("S"));
        assert_eq!(tree.origin("nylas.webhook_secrets[0]"), env("S"));
        assert_eq!(tree.origin("nylas.webhook_secrets[1]"), file());
    }
}
