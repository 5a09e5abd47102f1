//! Defaults, file values, and the precedence of the environment over the file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::{CRM_URL, env, load_from, toml_file};
use crate::config::{
    CalendarSelection, CrmSettings, FetchPolicy, LoadOptions, LogFormat, Settings, load,
};

fn rest(settings: &Settings) -> &crate::config::RestCrmSettings {
    match &settings.crm {
        CrmSettings::Rest(rest) => rest,
        other => panic!("expected the rest kind, got {other:?}"),
    }
}

fn exposed(secrets: &[secrecy::SecretString]) -> Vec<&str> {
    secrets.iter().map(ExposeSecret::expose_secret).collect()
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    let settings = load_from(None, &[("CALSYNC__CRM__BASE_URL", CRM_URL)]).unwrap();

    let server = &settings.server;
    assert_eq!(server.listen, "0.0.0.0:3000".parse::<SocketAddr>().unwrap());
    assert_eq!(server.webhook_path, "/webhooks/nylas");
    assert_eq!(server.max_body_bytes, 4_194_304);
    assert_eq!(server.shutdown_timeout, Duration::from_secs(20));
    assert_eq!(server.request_timeout, Duration::from_secs(30));
    assert_eq!(server.max_connections, 1024);

    let nylas = &settings.nylas;
    assert_eq!(nylas.api_uri.as_str(), "https://api.us.nylas.com/");
    assert!(nylas.api_key.is_none());
    assert!(nylas.webhook_secrets.is_empty());
    assert_eq!(nylas.fetch, FetchPolicy::Always);
    assert_eq!(nylas.timeout, Duration::from_secs(10));
    assert_eq!(nylas.requests_per_second, 20);

    assert_eq!(settings.store.url.expose_secret(), "sqlite://calsync.db");
    assert_eq!(
        settings.store.keep_notifications,
        Duration::from_secs(7 * 86_400)
    );

    let crm = rest(&settings);
    assert_eq!(crm.base_url.as_str(), "https://crm.example.com/");
    assert!(crm.api_key.is_none());
    assert_eq!(crm.meetings_path, "/api/meetings");
    assert_eq!(crm.timeout, Duration::from_secs(10));

    let sync = &settings.sync;
    assert_eq!(sync.workers, 8);
    assert_eq!(sync.max_attempts, 12);
    assert_eq!(sync.retry_initial, Duration::from_secs(1));
    assert_eq!(sync.retry_max, Duration::from_secs(600));
    assert_eq!(sync.coalesce_window, Duration::from_secs(1));
    assert_eq!(sync.coalesce_max_delay, Duration::from_secs(10));
    assert_eq!(sync.crm_requests_per_second, 0);
    assert_eq!(sync.calendars, CalendarSelection::All);
    assert!(!sync.exclude_read_only_calendars);
    assert!(sync.internal_domains.is_empty());

    let reconcile = &settings.reconcile;
    assert_eq!(reconcile.interval, Duration::from_secs(900));
    assert_eq!(reconcile.window_days.back, 30);
    assert_eq!(reconcile.window_days.ahead, 365);
    assert_eq!(reconcile.safety_margin, Duration::from_secs(300));

    assert_eq!(settings.log.format, LogFormat::Json);
    assert_eq!(settings.log.level, "info");
}

const FILE: &str = r#"
[server]
listen = "127.0.0.1:8080"
webhook_path = "/hooks"
max_body_bytes = 1024
shutdown_timeout = "5s"
request_timeout = "7s"
max_connections = 64

[nylas]
api_uri = "https://api.eu.nylas.com"
api_key = "file-key"
webhook_secrets = ["old-secret", "new-secret"]
fetch = "when_incomplete"
timeout = "3s"
requests_per_second = 0

[store]
url = "postgres://calsync:pw@db.internal/calsync"
keep_notifications = "2d"

[crm]
kind = "jsonl"
path = "/var/lib/calsync/out.jsonl"

[sync]
workers = 2
max_attempts = 3
retry_initial = "200ms"
retry_max = "1m"
crm_requests_per_second = 5
calendars = "primary"
exclude_read_only_calendars = true
internal_domains = ["Example.COM", " corp.example "]

[reconcile]
interval = "0s"
window_days = { back = 7, ahead = 60 }
safety_margin = "1m"

[log]
format = "text"
level = "info,calsync=debug"
"#;

#[test]
fn file_values_are_read() {
    let settings = load_from(Some(FILE), &[]).unwrap();

    assert_eq!(settings.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.server.webhook_path, "/hooks");
    assert_eq!(settings.server.max_body_bytes, 1024);
    assert_eq!(settings.server.shutdown_timeout, Duration::from_secs(5));
    assert_eq!(settings.server.request_timeout, Duration::from_secs(7));
    assert_eq!(settings.server.max_connections, 64);
    assert_eq!(settings.nylas.api_uri.as_str(), "https://api.eu.nylas.com/");
    assert_eq!(
        settings.nylas.api_key.as_ref().unwrap().expose_secret(),
        "file-key"
    );
    assert_eq!(
        exposed(&settings.nylas.webhook_secrets),
        ["old-secret", "new-secret"]
    );
    assert_eq!(settings.nylas.fetch, FetchPolicy::WhenIncomplete);
    assert_eq!(settings.nylas.timeout, Duration::from_secs(3));
    assert_eq!(settings.nylas.requests_per_second, 0);
    let url = settings.store.url.expose_secret();
    assert_eq!(url, "postgres://calsync:pw@db.internal/calsync");
    assert_eq!(
        settings.store.keep_notifications,
        Duration::from_secs(2 * 86_400)
    );
    match &settings.crm {
        CrmSettings::Jsonl(jsonl) => {
            assert_eq!(jsonl.path, PathBuf::from("/var/lib/calsync/out.jsonl"));
        }
        other => panic!("expected jsonl, got {other:?}"),
    }
    assert_eq!(settings.sync.workers, 2);
    assert_eq!(settings.sync.max_attempts, 3);
    assert_eq!(settings.sync.retry_initial, Duration::from_millis(200));
    assert_eq!(settings.sync.retry_max, Duration::from_secs(60));
    assert_eq!(settings.sync.crm_requests_per_second, 5);
    assert_eq!(settings.sync.calendars, CalendarSelection::Primary);
    assert!(settings.sync.exclude_read_only_calendars);
    assert_eq!(
        settings.sync.internal_domains,
        ["example.com", "corp.example"]
    );
    assert_eq!(settings.reconcile.interval, Duration::ZERO);
    assert_eq!(settings.reconcile.window_days.back, 7);
    assert_eq!(settings.reconcile.window_days.ahead, 60);
    assert_eq!(settings.reconcile.safety_margin, Duration::from_secs(60));
    assert_eq!(settings.log.format, LogFormat::Text);
    assert_eq!(settings.log.level, "info,calsync=debug");
}

#[test]
fn environment_overrides_the_file() {
    let settings = load_from(
        Some(FILE),
        &[
            ("CALSYNC__SYNC__WORKERS", "4"),
            ("CALSYNC__RECONCILE__WINDOW_DAYS__BACK", "10"),
            ("CALSYNC__SERVER__LISTEN", "[::1]:9000"),
            ("CALSYNC__SYNC__EXCLUDE_READ_ONLY_CALENDARS", "false"),
            ("CALSYNC__LOG__FORMAT", "json"),
        ],
    )
    .unwrap();

    assert_eq!(settings.sync.workers, 4);
    assert_eq!(settings.reconcile.window_days.back, 10);
    assert_eq!(
        settings.reconcile.window_days.ahead, 60,
        "the file's sibling key stays"
    );
    assert_eq!(settings.server.listen.to_string(), "[::1]:9000");
    assert!(!settings.sync.exclude_read_only_calendars);
    assert_eq!(settings.log.format, LogFormat::Json);
    assert_eq!(
        settings.sync.max_attempts, 3,
        "keys the environment does not set stay"
    );
}

#[test]
fn aliases_set_their_keys_over_the_file() {
    let vars = [
        ("NYLAS_API_KEY", "alias-key"),
        ("NYLAS_API_URI", "https://api.us.nylas.com"),
    ];
    let settings = load_from(Some(FILE), &vars).unwrap();
    assert_eq!(
        settings.nylas.api_key.as_ref().unwrap().expose_secret(),
        "alias-key"
    );
    assert_eq!(settings.nylas.api_uri.as_str(), "https://api.us.nylas.com/");
}

#[test]
fn aliases_alone_set_their_keys() {
    let settings = load_from(
        None,
        &[
            ("NYLAS_API_KEY", "alias-key"),
            ("NYLAS_API_URI", "https://api.eu.nylas.com"),
            ("NYLAS_WEBHOOK_SECRET", "alias-secret"),
            ("CRM_API_KEY", "crm-key"),
            ("CALSYNC__CRM__BASE_URL", CRM_URL),
        ],
    )
    .unwrap();
    assert_eq!(
        settings.nylas.api_key.as_ref().unwrap().expose_secret(),
        "alias-key"
    );
    assert_eq!(settings.nylas.api_uri.as_str(), "https://api.eu.nylas.com/");
    assert_eq!(exposed(&settings.nylas.webhook_secrets), ["alias-secret"]);
    assert_eq!(
        rest(&settings).api_key.as_ref().unwrap().expose_secret(),
        "crm-key"
    );
}

#[test]
fn webhook_secret_alias_adds_to_the_file_list() {
    let settings = load_from(Some(FILE), &[("NYLAS_WEBHOOK_SECRET", "alias-secret")]).unwrap();
    let secrets = exposed(&settings.nylas.webhook_secrets);
    assert_eq!(secrets, ["old-secret", "new-secret", "alias-secret"]);
}

#[test]
fn prefixed_variables_beat_aliases() {
    let settings = load_from(
        Some(FILE),
        &[
            ("NYLAS_API_KEY", "alias-key"),
            ("CALSYNC__NYLAS__API_KEY", "prefixed-key"),
            ("NYLAS_API_URI", "https://alias.example"),
            ("CALSYNC__NYLAS__API_URI", "https://prefixed.example"),
            ("NYLAS_WEBHOOK_SECRET", "alias-secret"),
            ("CALSYNC__NYLAS__WEBHOOK_SECRETS", "a,b"),
        ],
    )
    .unwrap();
    assert_eq!(
        settings.nylas.api_key.as_ref().unwrap().expose_secret(),
        "prefixed-key"
    );
    assert_eq!(settings.nylas.api_uri.as_str(), "https://prefixed.example/");
    // The whole list is set by the higher layer; the alias does not add to it.
    assert_eq!(exposed(&settings.nylas.webhook_secrets), ["a", "b"]);
}

#[test]
fn lists_from_the_environment_are_comma_separated() {
    let settings = load_from(
        Some(FILE),
        &[
            ("CALSYNC__NYLAS__WEBHOOK_SECRETS", " one , two,,three "),
            ("CALSYNC__SYNC__INTERNAL_DOMAINS", "A.example,b.example"),
        ],
    )
    .unwrap();
    assert_eq!(
        exposed(&settings.nylas.webhook_secrets),
        ["one", "two", "three"]
    );
    assert_eq!(settings.sync.internal_domains, ["a.example", "b.example"]);

    let cleared = load_from(Some(FILE), &[("CALSYNC__NYLAS__WEBHOOK_SECRETS", "")]).unwrap();
    assert!(
        cleared.nylas.webhook_secrets.is_empty(),
        "an empty variable clears the list"
    );
}

#[test]
fn empty_aliases_are_ignored() {
    let vars = [
        ("NYLAS_API_KEY", ""),
        ("NYLAS_WEBHOOK_SECRET", ""),
        ("CALSYNC__CRM__BASE_URL", CRM_URL),
    ];
    let settings = load_from(None, &vars).unwrap();
    assert!(settings.nylas.api_key.is_none());
    assert!(settings.nylas.webhook_secrets.is_empty());
}

#[test]
fn the_file_comes_from_calsync_config_unless_a_path_is_given() {
    let file = toml_file("[sync]\nworkers = 3\n[crm]\nkind = \"jsonl\"\npath = \"out.jsonl\"\n");
    let other = toml_file("[sync]\nworkers = 5\n[crm]\nkind = \"jsonl\"\npath = \"out.jsonl\"\n");
    let vars = env(&[("CALSYNC_CONFIG", file.path.to_str().unwrap())]);

    let from_env = load(&LoadOptions {
        config_path: None,
        env: vars.clone(),
        ..LoadOptions::default()
    })
    .unwrap();
    assert_eq!(from_env.sync.workers, 3);

    let from_flag = load(&LoadOptions {
        config_path: Some(other.path.clone()),
        env: vars,
        ..LoadOptions::default()
    })
    .unwrap();
    assert_eq!(from_flag.sync.workers, 5);
}

#[test]
fn toml_scalars_of_any_type_are_read_as_their_text() {
    let text = "[sync]\nworkers = \"6\"\nexclude_read_only_calendars = \"TRUE\"\n";
    let settings = load_from(Some(text), &[("CALSYNC__CRM__BASE_URL", CRM_URL)]).unwrap();
    assert_eq!(settings.sync.workers, 6);
    assert!(settings.sync.exclude_read_only_calendars);
}

#[test]
fn require_nylas_api_key_returns_the_key_or_names_it() {
    let base = ("CALSYNC__CRM__BASE_URL", CRM_URL);
    let without = load_from(None, &[base]).unwrap();
    let message = without.require_nylas_api_key().unwrap_err().to_string();
    assert!(
        message.starts_with("nylas.api_key is required"),
        "{message}"
    );
    assert!(message.contains("NYLAS_API_KEY"), "{message}");

    let with = load_from(None, &[base, ("NYLAS_API_KEY", "k")]).unwrap();
    assert_eq!(with.require_nylas_api_key().unwrap().expose_secret(), "k");
}
