//! The keys calsync knows, read from the settings structs themselves, and "did you mean".
//!
//! Invariants: the list of keys can never drift from the structs (serde's derive declares the
//! field names, and [`field_names`] reads them); a suggestion is only made when it is close.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

use super::{
    FilterSettings, LogSettings, NylasSettings, ReconcileSettings, ServerSettings, StoreSettings,
    SyncSettings, WindowDays,
};

/// The field names of a table's struct.
pub(super) type Keys = fn() -> &'static [&'static str];

/// The tables other than `[crm]` (whose keys depend on its kind), in file order: each dotted
/// path and its keys. The top-level tables are these and `crm`.
pub(super) const SECTIONS: &[(&str, Keys)] = &[
    ("server", field_names::<ServerSettings>),
    ("nylas", field_names::<NylasSettings>),
    ("store", field_names::<StoreSettings>),
    ("sync", field_names::<SyncSettings>),
    ("filter", field_names::<FilterSettings>),
    ("reconcile", field_names::<ReconcileSettings>),
    ("reconcile.window_days", field_names::<WindowDays>),
    ("log", field_names::<LogSettings>),
];

/// The candidate closest to `wanted`, if close enough to be a likely typo. Keys are compared
/// with `.` and `_` treated alike, so `sync_workers` finds `sync.workers`.
pub(super) fn closest<'a>(
    wanted: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let normal = |key: &str| key.to_ascii_lowercase().replace('.', "_");
    let wanted = normal(wanted);
    let limit = (wanted.chars().count() / 3).clamp(1, 3);
    candidates
        .map(|candidate| (distance(&wanted, &normal(candidate)), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.to_owned())
}

/// The Levenshtein distance between `a` and `b`, in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// The field names that serde's derive declares for the struct `T`.
///
/// serde passes them to [`Deserializer::deserialize_struct`]; a deserializer that records them
/// and stops is enough to read them, so the list of keys can never drift from the structs.
pub(super) fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
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
        assert_eq!(field_names::<LogSettings>(), &["format", "level"]);
        assert_eq!(field_names::<WindowDays>(), &["back", "ahead"]);
    }

    #[test]
    fn suggestions_are_close_or_nothing() {
        let keys = ["server.listen", "sync.workers", "sync.lease"];
        let near = |wanted| closest(wanted, keys.into_iter());
        assert_eq!(near("server.lisen").as_deref(), Some("server.listen"));
        assert_eq!(near("sync_workers").as_deref(), Some("sync.workers"));
        assert_eq!(near("SYNC_WORKRS").as_deref(), Some("sync.workers"));
        assert_eq!(near("colour"), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
