//! The loader under arbitrary input (issue 14, fuzzing): any TOML text and any environment give
//! settings or typed errors, never a panic; and no error or warning shows a password written
//! inside a URL, whatever key it was written under.
//!
//! Inputs are built from calsync's own keys and variable names (so that they reach deep into
//! the loader) mixed with arbitrary text. `PROPTEST_CASES=100000 cargo test --lib
//! config::tests::arbitrary` runs a longer search.

use proptest::prelude::*;

use super::{env, toml_file};
use crate::config::load::known_keys;
use crate::config::{LoadOptions, load};

/// A password, only ever written inside a URL's user info, that no error or warning may show.
const MARKER: &str = "S3CRET-marker";

/// A dotted key: a known one, a near miss, or arbitrary.
fn key() -> impl Strategy<Value = String> {
    let known = known_keys();
    let pick = proptest::sample::select(known);
    prop_oneof![
        4 => pick.clone(),
        1 => pick.prop_map(|key| format!("{key}x")),
        1 => "[a-z_]{1,8}(\\.[a-z_]{1,8}){0,3}",
    ]
}

/// A value as text: of the right shape for some key, or arbitrary.
fn text_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("0".to_owned()),
        Just("true".to_owned()),
        Just("10s".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("99999999999999999999y".to_owned()),
        Just("https://u:S3CRET-marker@example.com".to_owned()),
        Just("postgres://u:S3CRET-marker@[db/x".to_owned()),
        Just("sqlite://calsync.db".to_owned()),
        Just("a, ,b".to_owned()),
        Just("jsonl".to_owned()),
        Just("hubspot".to_owned()),
        Just("salesforce".to_owned()),
        Just("pipedrive".to_owned()),
        any::<String>(),
    ]
}

/// A TOML value.
fn toml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        text_value().prop_map(|text| format!("{text:?}")),
        any::<i64>().prop_map(|number| number.to_string()),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(|number| format!("{number:?}")),
        any::<bool>().prop_map(|flag| flag.to_string()),
        Just("1979-05-27T07:32:00Z".to_owned()),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec(("[a-z_]{1,6}", inner), 0..3).prop_map(|pairs| {
                let pairs: Vec<String> = pairs
                    .into_iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect();
                format!("{{ {} }}", pairs.join(", "))
            }),
        ]
    })
}

/// A TOML document of `key = value` lines (dotted keys), or arbitrary text.
fn toml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec((key(), toml_value()), 0..12).prop_map(|lines| {
            let mut text = String::new();
            for (key, value) in lines {
                text.push_str(&format!("{key} = {value}\n"));
            }
            text
        }),
        1 => any::<String>(),
    ]
}

/// An environment of calsync variables (prefixed, aliases, single underscores) and others.
fn environment() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        4 => key().prop_map(|key| format!("CALSYNC__{}", key.replace('.', "__").to_uppercase())),
        1 => key().prop_map(|key| format!("CALSYNC_{}", key.replace('.', "_").to_uppercase())),
        1 => prop::sample::select(vec![
            "NYLAS_API_KEY".to_owned(),
            "NYLAS_API_URI".to_owned(),
            "NYLAS_WEBHOOK_SECRET".to_owned(),
            "CRM_API_KEY".to_owned(),
            "CALSYNC__".to_owned(),
            "CALSYNC____X".to_owned(),
        ]),
        1 => "CALSYNC[A-Z_]{0,12}",
    ];
    prop::collection::vec((name, text_value()), 0..10)
}

/// `PROPTEST_CASES` when set (the longer search), else 512.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn any_input_gives_settings_or_typed_errors(
        text in proptest::option::of(toml_text()),
        vars in environment(),
        terminal in any::<bool>(),
    ) {
        let file = text.as_deref().map(toml_file);
        let pairs: Vec<(&str, &str)> =
            vars.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let options = LoadOptions {
            config_path: file.as_ref().map(|file| file.path.clone()),
            env: env(&pairs),
            logs_to_terminal: terminal,
        };
        match load(&options) {
            Ok(settings) => {
                let shown = format!("{:?}", settings.warnings);
                prop_assert!(!shown.contains(MARKER), "{}", shown);
            }
            Err(errors) => {
                prop_assert!(!errors.errors.is_empty());
                let shown = format!("{errors} {:?}", errors.warnings);
                prop_assert!(!shown.contains(MARKER), "{}", shown);
            }
        }
    }
}
