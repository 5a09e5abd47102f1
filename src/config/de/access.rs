//! The items of a list and the entries of a table, each handed to serde as a [`Node`] with
//! its own key.
//!
//! Invariant: an error from an item or an entry carries that item's or entry's key.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess};
use toml::Value;

use super::{DeError, Node, join};

/// The items of a list, each with its key (`nylas.webhook_secrets[1]`).
pub(super) struct Items {
    items: std::iter::Enumerate<std::vec::IntoIter<Value>>,
    key: String,
}

impl Items {
    pub fn new(items: Vec<Value>, key: &str) -> Self {
        Items {
            items: items.into_iter().enumerate(),
            key: key.to_owned(),
        }
    }
}

impl<'de> SeqAccess<'de> for Items {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((index, value)) = self.items.next() else {
            return Ok(None);
        };
        let key = format!("{}[{index}]", self.key);
        seed.deserialize(Node::new(value, &key))
            .map(Some)
            .map_err(|error| error.at(&key))
    }
}

/// The entries of a table, in key order, each value with its dotted key.
pub(super) struct Entries {
    entries: std::collections::btree_map::IntoIter<String, Value>,
    key: String,
    next: Option<(String, Value)>,
}

impl Entries {
    pub fn new(table: toml::Table, key: &str) -> Self {
        let entries: std::collections::BTreeMap<String, Value> = table.into_iter().collect();
        Entries {
            entries: entries.into_iter(),
            key: key.to_owned(),
            next: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((name, value)) = self.entries.next() else {
            return Ok(None);
        };
        let key = join(&self.key, &name);
        let result = seed.deserialize(name.clone().into_deserializer());
        self.next = Some((key.clone(), value));
        result.map(Some).map_err(|error: DeError| error.at(&key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.next.take() else {
            return Err(<DeError as de::Error>::custom(
                "a value was read before its key",
            ));
        };
        seed.deserialize(Node::new(value, &key))
            .map_err(|error| error.at(&key))
    }
}
