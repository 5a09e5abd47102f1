//! The file shape: what the merged TOML + environment tree deserializes into, before
//! validation.
//!
//! Invariants: every field is optional (defaults are applied in validation, so a value's absence
//! is visible there); scalars are kept as text so that every value, from the file or the
//! environment, is parsed by one set of functions that name the key in their errors; unknown
//! fields are rejected. [`SECTIONS`] lists every table, and the keys of each are read from the
//! serde derive itself ([`field_names`]), so adding a key is adding a field.

use std::fmt;
use std::marker::PhantomData;

use secrecy::SecretString;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, SeqAccess, Visitor};

/// The whole configuration tree.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawSettings {
    pub server: RawServer,
    pub nylas: RawNylas,
    pub store: RawStore,
    pub crm: RawCrm,
    pub sync: RawSync,
    pub reconcile: RawReconcile,
    pub log: RawLog,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawServer {
    pub listen: Option<String>,
    pub webhook_path: Option<String>,
    pub max_body_bytes: Option<String>,
    pub shutdown_timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub max_connections: Option<String>,
}

/// `[nylas]`
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawNylas {
    pub api_uri: Option<String>,
    pub api_key: Option<SecretString>,
    #[serde(deserialize_with = "list")]
    pub webhook_secrets: Option<Vec<SecretString>>,
    pub fetch: Option<String>,
    pub timeout: Option<String>,
    pub requests_per_second: Option<String>,
}

/// `[store]`
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawStore {
    pub url: Option<SecretString>,
    pub keep_notifications: Option<String>,
}

/// `[crm]`: the union of the keys of every kind. Validation picks the kind's keys and rejects
/// the others, so a new kind is new fields here plus one match arm there.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawCrm {
    pub kind: Option<String>,
    // kind = "rest"
    pub base_url: Option<String>,
    pub api_key: Option<SecretString>,
    pub meetings_path: Option<String>,
    pub timeout: Option<String>,
    // kind = "jsonl"
    pub path: Option<String>,
    // kind = "hubspot"
    pub token: Option<SecretString>,
    pub event_id_property: Option<String>,
    // kind = "salesforce"
    pub instance_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub token_url: Option<String>,
    pub api_version: Option<String>,
    pub external_id_field: Option<String>,
    // kind = "pipedrive"
    pub api_token: Option<SecretString>,
    pub company_domain: Option<String>,
    // hubspot, salesforce, pipedrive
    pub link_contacts: Option<String>,
    pub create_missing_contacts: Option<String>,
}

/// `[sync]`
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawSync {
    pub workers: Option<String>,
    pub max_attempts: Option<String>,
    pub retry_initial: Option<String>,
    pub retry_max: Option<String>,
    pub lease: Option<String>,
    pub crm_requests_per_second: Option<String>,
    pub calendars: Option<String>,
    pub exclude_read_only_calendars: Option<String>,
    #[serde(deserialize_with = "list")]
    pub internal_domains: Option<Vec<String>>,
}

/// `[reconcile]`
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawReconcile {
    pub interval: Option<String>,
    pub window_days: RawWindowDays,
    pub safety_margin: Option<String>,
}

/// `[reconcile.window_days]`
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawWindowDays {
    pub back: Option<String>,
    pub ahead: Option<String>,
}

/// `[log]`
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

/// A table of the configuration: its dotted path (`""` for the root) and its keys.
pub(super) struct Section {
    pub path: &'static str,
    pub keys: fn() -> &'static [&'static str],
}

/// Every table of the configuration. A key of a table that is itself listed here is a table.
pub(super) const SECTIONS: &[Section] = &[
    Section {
        path: "",
        keys: field_names::<RawSettings>,
    },
    Section {
        path: "server",
        keys: field_names::<RawServer>,
    },
    Section {
        path: "nylas",
        keys: field_names::<RawNylas>,
    },
    Section {
        path: "store",
        keys: field_names::<RawStore>,
    },
    Section {
        path: "crm",
        keys: field_names::<RawCrm>,
    },
    Section {
        path: "sync",
        keys: field_names::<RawSync>,
    },
    Section {
        path: "reconcile",
        keys: field_names::<RawReconcile>,
    },
    Section {
        path: "reconcile.window_days",
        keys: field_names::<RawWindowDays>,
    },
    Section {
        path: "log",
        keys: field_names::<RawLog>,
    },
];

/// The section at `path`, if `path` is a table.
pub(super) fn section(path: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|section| section.path == path)
}

/// Deserializes a list given either as a sequence (TOML) or as one comma-separated string (how
/// environment variables spell lists). Items are trimmed; empty items are dropped, so an empty
/// string is an empty list.
fn list<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    struct ListVisitor<T>(PhantomData<T>);

    impl<'de, T: From<String>> Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings, or one comma-separated string")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| T::from(item.to_owned()))
                .collect())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                items.push(T::from(item.trim().to_owned()));
            }
            Ok(items)
        }
    }

    deserializer
        .deserialize_any(ListVisitor(PhantomData))
        .map(Some)
}

/// The field names that serde's derive declares for the struct `T`.
///
/// serde passes them to [`Deserializer::deserialize_struct`]; a deserializer that records them
/// and stops is enough to read them, so the list of keys can never drift from the structs.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("field names recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    // The probe always fails by design: the fields are what it is for.
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_reads_the_derive() {
        assert_eq!(field_names::<RawLog>(), &["format", "level"]);
        assert_eq!(
            field_names::<RawSettings>(),
            &[
                "server",
                "nylas",
                "store",
                "crm",
                "sync",
                "reconcile",
                "log"
            ]
        );
    }

    #[test]
    fn every_nested_struct_field_is_a_listed_section() {
        for name in field_names::<RawSettings>() {
            assert!(section(name).is_some(), "{name} is not in SECTIONS");
        }
        assert!(section("reconcile.window_days").is_some());
    }
}
