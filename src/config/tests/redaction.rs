//! Secrets stay out of `Debug` output and of the summary `calsync check` prints.

use super::{CRM_URL, env, load_from};
use crate::config::LoadOptions;

const SECRETS: [&str; 6] = [
    "nylas-key-7f3a",
    "hook-secret-1",
    "hook-secret-2",
    "crm-key-91bd",
    "db-pass-55e0",
    "url-pass-3c1f",
];

fn secret_settings() -> crate::config::Settings {
    load_from(
        Some("[nylas]\nwebhook_secrets = [\"hook-secret-1\"]\n"),
        &[
            ("NYLAS_API_KEY", SECRETS[0]),
            ("NYLAS_WEBHOOK_SECRET", SECRETS[2]),
            ("CRM_API_KEY", SECRETS[3]),
            ("CALSYNC__CRM__BASE_URL", CRM_URL),
            (
                "CALSYNC__STORE__URL",
                "postgres://calsync:db-pass-55e0@db.internal:5432/calsync?sslmode=require",
            ),
            (
                "NYLAS_API_URI",
                "https://nylas:url-pass-3c1f@api.us.nylas.com",
            ),
        ],
    )
    .unwrap()
}

#[test]
fn debug_output_hides_every_secret() {
    let settings = secret_settings();
    let debug = format!("{settings:?} {settings:#?}");
    for secret in SECRETS {
        assert!(!debug.contains(secret), "{secret} leaked into {debug}");
    }
    assert!(
        debug.contains("crm.example.com"),
        "non-secret values are shown: {debug}"
    );
}

#[test]
fn load_options_debug_shows_variable_names_only() {
    let options = LoadOptions {
        config_path: None,
        env: env(&[("NYLAS_API_KEY", SECRETS[0])]),
        ..LoadOptions::default()
    };
    let debug = format!("{options:?}");
    assert!(debug.contains("NYLAS_API_KEY"), "{debug}");
    assert!(!debug.contains(SECRETS[0]), "{debug}");
}

#[test]
fn summary_hides_secrets_and_the_store_password() {
    let summary = secret_settings().redacted_summary();
    let value = |key: &str| {
        let found = summary.iter().find(|(name, _)| name == key);
        found
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("{key} missing"))
    };
    assert_eq!(value("nylas.api_key"), "***");
    assert_eq!(value("nylas.webhook_secrets"), "***, ***");
    assert_eq!(value("crm.api_key"), "***");
    assert_eq!(
        value("store.url"),
        "postgres://calsync:***@db.internal:5432/calsync?sslmode=require"
    );
    assert_eq!(value("sync.workers"), "8");
    let all = format!("{summary:?}");
    for secret in SECRETS {
        assert!(!all.contains(secret), "{secret} leaked into {all}");
    }
}

#[test]
fn summary_marks_unset_secrets_and_hides_password_parameters() {
    let settings = load_from(
        None,
        &[
            ("CALSYNC__CRM__BASE_URL", CRM_URL),
            (
                "CALSYNC__STORE__URL",
                "postgres://db/calsync?user=u&password=db-pass-55e0",
            ),
        ],
    )
    .unwrap();
    let summary = settings.redacted_summary();
    let value = |key: &str| {
        summary
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
    };
    assert_eq!(value("nylas.api_key").as_deref(), Some("(not set)"));
    assert_eq!(value("nylas.webhook_secrets").as_deref(), Some("(none)"));
    assert_eq!(value("crm.api_key").as_deref(), Some("(not set)"));
    assert_eq!(
        value("store.url").as_deref(),
        Some("postgres://db/calsync?user=u&password=***")
    );
}
