//! Several problems are reported at once, each once; what is only worth a warning is one; the
//! log format follows the terminal unless set; URLs never show their credentials.

use super::{CRM_URL, chain, env, env_error, file_error, load_from};
use crate::config::{ConfigWarning, LoadOptions, LogFormat, Origin, load};

#[test]
fn every_problem_of_the_file_and_the_environment_at_once() {
    let text = "[server]\nlisen = \"x\"\nmax_body_bytes = 0\n\
                [sync]\nworkers = \"many\"\nlease = \"forever\"\n\
                [crm]\nkind = \"rest\"\n";
    let (errors, path) = file_error(text, &[("CALSYNC__LOG__FORMAT", "xml")]);
    let message = chain(&errors).replace(&path.display().to_string(), "PATH");
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 6, "{message}");
    for expected in [
        "unknown key server.lisen (in config file PATH); did you mean server.listen?",
        "server.max_body_bytes: must be at least 1, got 0 (in config file PATH)",
        "crm.base_url is required when crm.kind = \"rest\"",
        "sync.lease: invalid duration \"forever\"",
        "sync.workers: invalid number \"many\"",
        "log.format: invalid value \"xml\"",
    ] {
        let found = lines.iter().filter(|line| line.starts_with(expected));
        assert_eq!(found.count(), 1, "{expected} once in:\n{message}");
    }
    assert!(
        errors
            .to_string()
            .starts_with("6 configuration errors:\n  "),
        "{errors}"
    );
}

#[test]
fn one_error_reads_as_one_line() {
    let errors = env_error(&[]);
    assert_eq!(errors.errors.len(), 1);
    assert!(
        errors
            .to_string()
            .starts_with("configuration error: crm.base_url is required"),
        "{errors}"
    );
}

#[test]
fn a_bad_required_value_is_reported_once_not_also_as_missing() {
    let errors = env_error(&[("CALSYNC__CRM__BASE_URL", "nope")]);
    assert_eq!(errors.errors.len(), 1, "{}", chain(&errors));
    assert!(chain(&errors).starts_with("crm.base_url: invalid URL \"nope\""));
}

#[test]
fn every_missing_key_of_a_kind_at_once() {
    let errors = env_error(&[("CALSYNC__CRM__KIND", "salesforce")]);
    let message = chain(&errors);
    let keys: Vec<&str> = message
        .lines()
        .map(|line| line.split(' ').next().unwrap_or(line))
        .collect();
    assert_eq!(
        keys,
        ["crm.instance_url", "crm.client_id", "crm.client_secret"],
        "{message}"
    );
    assert!(message.contains("CALSYNC__CRM__CLIENT_SECRET or CRM_API_KEY"));
}

#[test]
fn keys_of_another_kind_from_the_environment_are_warnings() {
    // The README's dry run after its quick start: the rest kind's variables stay exported.
    let settings = load_from(
        None,
        &[
            ("CALSYNC__CRM__BASE_URL", CRM_URL),
            ("CRM_API_KEY", "k"),
            ("CALSYNC__CRM__KIND", "jsonl"),
            ("CALSYNC__CRM__PATH", "dry-run.jsonl"),
        ],
    )
    .expect("the dry run loads");
    assert_eq!(settings.crm.kind(), "jsonl");
    let warnings: Vec<String> = settings.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        [
            "crm.api_key is not used when crm.kind = \"jsonl\" (from environment variable \
             CRM_API_KEY); it is ignored",
            "crm.base_url is not used when crm.kind = \"jsonl\" (from environment variable \
             CALSYNC__CRM__BASE_URL); it is ignored",
        ]
    );

    // The alias is the credential of a kind that names it otherwise: no warning then.
    let hubspot = load_from(
        None,
        &[("CALSYNC__CRM__KIND", "hubspot"), ("CRM_API_KEY", "pat")],
    )
    .unwrap();
    assert!(hubspot.warnings.is_empty(), "{:?}", hubspot.warnings);
}

#[test]
fn single_underscore_variables_are_warned_with_the_right_spelling() {
    let settings = load_from(
        None,
        &[
            ("CALSYNC__CRM__BASE_URL", CRM_URL),
            ("CALSYNC_SYNC_WORKERS", "4"),
            ("CALSYNC_SHINY", "1"),
            ("CALSYNC_CONFIG", ""),
        ],
    )
    .unwrap();
    assert_eq!(settings.sync.workers, 8, "not read");
    assert_eq!(
        settings.warnings,
        [
            ConfigWarning::IgnoredVariable {
                var: "CALSYNC_SHINY".into(),
                suggestion: None,
            },
            ConfigWarning::IgnoredVariable {
                var: "CALSYNC_SYNC_WORKERS".into(),
                suggestion: Some("CALSYNC__SYNC__WORKERS".into()),
            },
        ]
    );
    assert_eq!(
        settings.warnings[1].to_string(),
        "environment variable CALSYNC_SYNC_WORKERS is ignored: settings are \
         CALSYNC__SECTION__KEY, with double underscores; did you mean CALSYNC__SYNC__WORKERS?"
    );
    // They come with the errors too (they may explain one).
    let errors = env_error(&[("CALSYNC_CRM_BASE_URL", CRM_URL)]);
    assert_eq!(errors.warnings.len(), 1);
    assert!(
        errors.warnings[0]
            .to_string()
            .ends_with("did you mean CALSYNC__CRM__BASE_URL?")
    );
}

#[test]
fn log_format_follows_the_terminal_unless_set() {
    let load_with = |terminal: bool, vars: &[(&str, &str)]| {
        let mut all = vars.to_vec();
        all.push(("CALSYNC__CRM__BASE_URL", CRM_URL));
        load(&LoadOptions {
            config_path: None,
            env: env(&all),
            logs_to_terminal: terminal,
        })
        .unwrap()
        .log
        .format
    };
    assert_eq!(load_with(true, &[]), LogFormat::Text);
    assert_eq!(load_with(false, &[]), LogFormat::Json);
    assert_eq!(
        load_with(true, &[("CALSYNC__LOG__FORMAT", "json")]),
        LogFormat::Json
    );
    assert_eq!(
        load_with(false, &[("CALSYNC__LOG__FORMAT", "text")]),
        LogFormat::Text
    );
}

#[test]
fn urls_with_credentials_are_never_echoed() {
    let cases = [
        ("CALSYNC__CRM__BASE_URL", "ftp://u:hunter2@crm.example.com/"),
        (
            "CALSYNC__CRM__BASE_URL",
            "https://u:hunter2@crm example.com/",
        ),
        ("NYLAS_API_URI", "https://u:hunter2@[api/"),
        ("CALSYNC__STORE__URL", "mysql://u:hunter2@db/x"),
        ("CALSYNC__STORE__URL", "postgres://u:hunter2@db:99999/x"),
        // Found by `arbitrary`: the filter parser's reason quoted the directive.
        ("CALSYNC__LOG__LEVEL", "https://u:hunter2@example.com"),
        ("CALSYNC__SYNC__WORKERS", "https://u:hunter2@example.com"),
    ];
    for (var, url) in cases {
        let mut vars = vec![(var, url)];
        if var != "CALSYNC__CRM__BASE_URL" {
            vars.push(("CALSYNC__CRM__BASE_URL", CRM_URL));
        }
        let errors = env_error(&vars);
        let message = format!("{errors} {errors:?}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains(var), "{message}");
    }

    let settings = load_from(
        None,
        &[
            (
                "CALSYNC__CRM__BASE_URL",
                "https://u:hunter2@crm.example.com",
            ),
            ("NYLAS_API_URI", "https://k3y@api.eu.nylas.com/?token=t0k"),
        ],
    )
    .unwrap();
    let summary = format!("{:?}", settings.redacted_summary());
    for secret in ["hunter2", "k3y", "t0k"] {
        assert!(!summary.contains(secret), "{summary}");
    }
    assert!(
        summary.contains("https://u:***@crm.example.com/"),
        "{summary}"
    );
}

#[test]
fn placeholders_are_never_settings() {
    // A placeholder keeps a table being checked; its value never reaches a Settings.
    let errors = env_error(&[("CALSYNC__CRM__KIND", "pipedrive")]);
    let message = chain(&errors);
    assert!(!message.contains("calsync.invalid"), "{message}");
    assert_eq!(
        message.lines().count(),
        2,
        "company_domain and api_token: {message}"
    );
}

#[test]
fn origins_follow_the_layer_whose_value_is_used() {
    let (errors, path) = file_error(
        "[sync]\nworkers = 0\n",
        &[
            ("CALSYNC__CRM__BASE_URL", CRM_URL),
            ("CALSYNC__SYNC__LEASE", "0s"),
        ],
    );
    let origins: Vec<Origin> = errors
        .errors
        .iter()
        .filter_map(|error| match error {
            crate::config::ConfigError::InvalidValue { origin, .. } => Some(origin.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        origins,
        [
            Origin::Env("CALSYNC__SYNC__LEASE".into()),
            Origin::File(path)
        ]
    );
}
