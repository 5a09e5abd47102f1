//! Every error class names its key and, where there is one, the file or variable it came from.

use super::{CRM_URL, chain, env_error, file_error};
use crate::config::{ConfigError, LoadOptions, Origin, load};

const BASE: (&str, &str) = ("CALSYNC__CRM__BASE_URL", CRM_URL);

/// Loads `file` and returns the errors' full messages with `PATH` standing for the file path.
fn file_message(text: &str) -> String {
    let (error, path) = file_error(text, &[BASE]);
    chain(&error).replace(&path.display().to_string(), "PATH")
}

fn env_message(vars: &[(&str, &str)]) -> String {
    let mut all = vars.to_vec();
    all.push(BASE);
    chain(&env_error(&all))
}

#[test]
fn unknown_key_in_the_file_with_the_closest_known_key() {
    let message = file_message("[server]\nlisen = \"0.0.0.0:1\"\n");
    assert_eq!(
        message,
        "unknown key server.lisen (in config file PATH); did you mean server.listen?"
    );
}

#[test]
fn unknown_section_and_nested_key_in_the_file() {
    assert_eq!(
        file_message("[servr]\nlisten = \"0.0.0.0:1\"\n"),
        "unknown key servr.listen (in config file PATH); did you mean server.listen?"
    );
    assert_eq!(
        file_message("[reconcile.window_days]\nsideways = 3\n"),
        "unknown key reconcile.window_days.sideways (in config file PATH)"
    );
    assert_eq!(
        file_message("workers = 3\n"),
        "unknown key workers (in config file PATH)"
    );
}

#[test]
fn unknown_key_in_the_environment_suggests_the_variable() {
    assert_eq!(
        env_message(&[("CALSYNC__SERVER__LISEN", "x")]),
        "unknown key server.lisen (from environment variable CALSYNC__SERVER__LISEN); \
         did you mean CALSYNC__SERVER__LISTEN?"
    );
    assert_eq!(
        env_message(&[("CALSYNC__SYNC_WORKERS", "4")]),
        "unknown key sync_workers (from environment variable CALSYNC__SYNC_WORKERS); \
         did you mean CALSYNC__SYNC__WORKERS?"
    );
}

#[test]
fn malformed_environment_variable_name() {
    let message = env_message(&[("CALSYNC__SYNC____WORKERS", "4")]);
    assert!(
        message.starts_with("environment variable CALSYNC__SYNC____WORKERS: expected CALSYNC__"),
        "{message}"
    );
}

#[test]
fn missing_required_values() {
    let message = chain(&env_error(&[]));
    assert_eq!(
        message,
        "crm.base_url is required when crm.kind = \"rest\"; set it in the config file or with \
         CALSYNC__CRM__BASE_URL"
    );
    let message = chain(&env_error(&[("CALSYNC__CRM__KIND", "jsonl")]));
    assert!(
        message.starts_with("crm.path is required when crm.kind = \"jsonl\""),
        "{message}"
    );
}

#[test]
fn keys_the_crm_kind_does_not_use_in_the_file() {
    assert_eq!(
        file_message("[crm]\nkind = \"rest\"\npath = \"out.jsonl\"\n"),
        "crm.path is not used when crm.kind = \"rest\" (in config file PATH)"
    );
    assert_eq!(
        file_message("[crm]\nkind = \"hubspot\"\ntoken = \"t\"\nmeetings_path = \"/x\"\n"),
        "crm.meetings_path is not used when crm.kind = \"hubspot\" (in config file PATH)"
    );
    assert_eq!(
        file_message("[crm]\nkind = \"jsonl\"\npath = \"o.jsonl\"\npaht = \"x\"\n"),
        "unknown key crm.paht (in config file PATH); did you mean crm.path?"
    );
}

#[test]
fn bad_duration_names_key_value_source_and_cause() {
    let errors = env_error(&[BASE, ("CALSYNC__SYNC__RETRY_INITIAL", "1 parsec")]);
    let message = chain(&errors);
    assert!(
        message.starts_with("sync.retry_initial: invalid duration \"1 parsec\": "),
        "{message}"
    );
    assert!(
        message.ends_with(" (from environment variable CALSYNC__SYNC__RETRY_INITIAL)"),
        "{message}"
    );
    match &errors.errors[..] {
        [ConfigError::InvalidValue { key, origin, .. }] => {
            assert_eq!(key, "sync.retry_initial");
            assert_eq!(origin, &Origin::Env("CALSYNC__SYNC__RETRY_INITIAL".into()));
        }
        other => panic!("unexpected {other:?}"),
    }
    let message = file_message("[store]\nkeep_notifications = \"forever\"\n");
    assert!(
        message.starts_with("store.keep_notifications: invalid duration \"forever\": "),
        "{message}"
    );
    assert!(message.ends_with(" (in config file PATH)"), "{message}");
}

#[test]
fn bad_urls() {
    let message = file_message("[nylas]\napi_uri = \"not a url\"\n");
    assert_eq!(
        message,
        "nylas.api_uri: invalid URL \"not a url\": relative URL without a base \
         (in config file PATH)"
    );
    let message = env_message(&[("NYLAS_API_URI", "ftp://files.example")]);
    assert_eq!(
        message,
        "nylas.api_uri: \"ftp://files.example\" is not an http or https URL \
         (from environment variable NYLAS_API_URI)"
    );
    let message = chain(&env_error(&[("CALSYNC__CRM__BASE_URL", "/relative")]));
    assert!(
        message.starts_with("crm.base_url: invalid URL \"/relative\""),
        "{message}"
    );
    let message = file_message("[store]\nurl = \"mysql://u:hunter2@db/x\"\n");
    assert_eq!(
        message,
        "store.url: unsupported scheme \"mysql\", expected sqlite or postgres (in config file PATH)"
    );
}

#[test]
fn bad_store_url_never_shows_its_password() {
    let message = file_message("[store]\nurl = \"postgres://u:hunter2@[db/x\"\n");
    assert!(message.starts_with("store.url: invalid URL: "), "{message}");
    assert!(message.ends_with(" (in config file PATH)"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn bad_socket_address() {
    let message = file_message("[server]\nlisten = \"localhost:3000\"\n");
    assert!(
        message.starts_with(
            "server.listen: invalid socket address \"localhost:3000\", expected IP:PORT: "
        ),
        "{message}"
    );
    assert!(message.ends_with(" (in config file PATH)"), "{message}");
}

#[test]
fn bad_enum_values() {
    assert_eq!(
        file_message("[nylas]\nfetch = \"sometimes\"\n"),
        "nylas.fetch: invalid value \"sometimes\", expected one of \"always\", \
         \"when_incomplete\" (in config file PATH)"
    );
    assert_eq!(
        env_message(&[("CALSYNC__CRM__KIND", "zoho")]),
        "crm.kind: invalid value \"zoho\", expected one of \"rest\", \"jsonl\", \"hubspot\", \
         \"salesforce\", \"pipedrive\" (from environment variable CALSYNC__CRM__KIND)"
    );
    let message = env_message(&[("CALSYNC__SYNC__CALENDARS", "some")]);
    assert!(
        message.starts_with("sync.calendars: invalid value \"some\""),
        "{message}"
    );
    let message = env_message(&[("CALSYNC__LOG__FORMAT", "xml")]);
    assert!(
        message.starts_with("log.format: invalid value \"xml\""),
        "{message}"
    );
}

#[test]
fn zero_where_at_least_one_is_needed() {
    for key in ["workers", "max_attempts"] {
        let message = file_message(&format!("[sync]\n{key} = 0\n"));
        assert_eq!(
            message,
            format!("sync.{key}: must be at least 1, got 0 (in config file PATH)")
        );
    }
    for key in ["max_body_bytes", "max_connections"] {
        assert_eq!(
            file_message(&format!("[server]\n{key} = 0\n")),
            format!("server.{key}: must be at least 1, got 0 (in config file PATH)")
        );
    }
    assert_eq!(
        env_message(&[("CALSYNC__NYLAS__TIMEOUT", "0s")]),
        "nylas.timeout: must be longer than 0s (from environment variable CALSYNC__NYLAS__TIMEOUT)"
    );
    assert_eq!(
        env_message(&[("CALSYNC__SERVER__REQUEST_TIMEOUT", "0s")]),
        "server.request_timeout: must be longer than 0s \
         (from environment variable CALSYNC__SERVER__REQUEST_TIMEOUT)"
    );
}

#[test]
fn bad_numbers_and_booleans() {
    for value in ["\"many\"", "-1", "2.5"] {
        let message = file_message(&format!("[sync]\nworkers = {value}\n"));
        assert!(
            message.starts_with("sync.workers: invalid number "),
            "{message}"
        );
        assert!(message.contains("(in config file PATH)"), "{message}");
    }
    let message = env_message(&[("CALSYNC__RECONCILE__WINDOW_DAYS__AHEAD", "99999999999")]);
    assert!(
        message.starts_with(
            "reconcile.window_days.ahead: invalid number \"99999999999\", expected a whole \
             number from 0 to 4294967295"
        ),
        "{message}"
    );
    assert_eq!(
        file_message("[sync]\nexclude_read_only_calendars = \"yes\"\n"),
        "sync.exclude_read_only_calendars: invalid boolean \"yes\", expected true or false \
         (in config file PATH)"
    );
}

#[test]
fn retry_initial_longer_than_retry_max() {
    assert_eq!(
        file_message("[sync]\nretry_initial = \"20m\"\n"),
        "sync.retry_initial: 20m is longer than sync.retry_max (10m, built-in default) \
         (in config file PATH)"
    );
}

#[test]
fn coalesce_window_longer_than_coalesce_max_delay() {
    assert_eq!(
        file_message("[sync]\ncoalesce_window = \"30s\"\n"),
        "sync.coalesce_window: 30s is longer than sync.coalesce_max_delay (10s, built-in \
         default) (in config file PATH)"
    );
}

#[test]
fn paths_must_start_with_a_slash() {
    assert_eq!(
        file_message("[server]\nwebhook_path = \"webhooks\"\n"),
        "server.webhook_path: \"webhooks\" must start with \"/\" (in config file PATH)"
    );
    let message = env_message(&[("CALSYNC__CRM__MEETINGS_PATH", "api/meetings")]);
    assert!(
        message.starts_with("crm.meetings_path: \"api/meetings\" must start"),
        "{message}"
    );
}

#[test]
fn values_of_the_wrong_shape() {
    assert_eq!(
        file_message("[server.listen]\nport = 3\n"),
        "server.listen: expected text, found a table (in config file PATH)"
    );
    assert_eq!(
        file_message("[nylas]\nwebhook_secrets = 5\n"),
        "nylas.webhook_secrets: expected a list, found an integer (in config file PATH)"
    );
    assert_eq!(
        file_message("sync = 3\n"),
        "sync: expected a table of keys, found an integer (in config file PATH)"
    );
    assert_eq!(
        env_message(&[("CALSYNC__SYNC", "3")]),
        "sync: expected a table of keys, found text (from environment variable CALSYNC__SYNC)"
    );
}

#[test]
fn empty_secrets_and_bad_domains() {
    assert_eq!(
        file_message("[nylas]\nwebhook_secrets = [\"a\", \"\"]\n"),
        "nylas.webhook_secrets: entry 1 is empty (in config file PATH)"
    );
    assert_eq!(
        env_message(&[("CALSYNC__NYLAS__API_KEY", " ")]),
        "nylas.api_key: must not be empty when set (from environment variable CALSYNC__NYLAS__API_KEY)"
    );
    assert_eq!(
        file_message("[sync]\ninternal_domains = [\"bob@example.com\"]\n"),
        "sync.internal_domains: \"bob@example.com\" is not a domain name (like \"example.com\") \
         (in config file PATH)"
    );
}

#[test]
fn bad_log_level() {
    let message = file_message("[log]\nlevel = \"verbose\"\n");
    assert_eq!(
        message,
        "log.level: invalid filter directive \"verbose\": \"verbose\" is not a level (off, \
         error, warn, info, debug, trace); write target=level to set the level of one target \
         (in config file PATH)"
    );
    let message = env_message(&[("CALSYNC__LOG__LEVEL", "info,calsync=loud")]);
    assert!(
        message.starts_with("log.level: invalid filter directive \"info,calsync=loud\": "),
        "{message}"
    );
    assert!(
        message.ends_with(" (from environment variable CALSYNC__LOG__LEVEL)"),
        "{message}"
    );
}

#[test]
fn toml_syntax_error_gives_position_but_not_the_line() {
    let message = file_message("[nylas]\napi_key = \"s3cret-value\n");
    assert!(
        message.starts_with("config file PATH is not valid TOML: line 2, column "),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn unreadable_file_gives_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.toml");
    let error = load(&LoadOptions {
        config_path: Some(path.clone()),
        env: super::env(&[BASE]),
        ..LoadOptions::default()
    })
    .unwrap_err();
    let message = chain(&error).replace(&path.display().to_string(), "PATH");
    assert_eq!(
        message,
        "config file PATH cannot be read: No such file or directory (os error 2)"
    );
}

#[test]
fn an_invalid_title_pattern_names_its_key_and_a_private_events_typo_its_choices() {
    assert_eq!(
        file_message("[filter]\nskip_titles = [\"^lunch\", \"(unclosed\"]\n"),
        "filter.skip_titles[1]: \"(unclosed\" is not a valid regular expression (error: unclosed \
         group) (in config file PATH)"
    );
    let message = file_message("[sync]\nprivate_events = \"hide\"\n");
    assert!(
        message.starts_with("sync.private_events: invalid value \"hide\""),
        "{message}"
    );
}
