//! Issue 11 item 4 and issue 14 item 5 against the binary: all configuration errors at once,
//! each once, exit 2; "did you mean" for a key and for a single-underscore variable; the OS
//! reason for an unreadable file; a password inside a URL never printed.

use std::path::Path;
use std::process::Output;

/// A configuration that loads, for `serve` and the rest (no file).
const VALID: &[(&str, &str)] = &[
    ("CALSYNC__CRM__BASE_URL", "https://crm.example.com"),
    ("NYLAS_API_KEY", "nyk_test"),
];

/// Runs `calsync <args>` in `dir` with exactly `env`.
async fn calsync(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = tokio::process::Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .await
        .expect("run calsync");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8 output");
    (status.code(), text(stdout), text(stderr))
}

fn occurrences(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[tokio::test]
async fn every_error_at_once_each_printed_once_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("calsync.toml"),
        "[server]\nlisen = \"0.0.0.0:3000\"\n[sync]\nworkers = \"many\"\n",
    )
    .unwrap();
    let env = [
        ("CALSYNC__LOG__FORMAT", "xml"),
        ("CALSYNC__CRM__KIND", "jsonl"),
        ("NYLAS_API_KEY", "nyk_test"),
    ];
    let (code, stdout, stderr) =
        calsync(dir.path(), &env, &["--config", "calsync.toml", "serve"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stdout, "", "nothing is logged: logging never started");
    assert!(
        stderr.starts_with("calsync: 4 configuration errors:\n"),
        "{stderr}"
    );
    for expected in [
        "  unknown key server.lisen (in config file calsync.toml); did you mean server.listen?\n",
        "  sync.workers: invalid number \"many\"",
        "  log.format: invalid value \"xml\"",
        "  crm.path is required when crm.kind = \"jsonl\"",
    ] {
        assert_eq!(
            occurrences(&stderr, expected),
            1,
            "{expected:?} in:\n{stderr}"
        );
    }
    assert_eq!(stderr.lines().count(), 5, "{stderr}");
}

#[tokio::test]
async fn a_missing_nylas_key_is_a_configuration_error_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["serve"][..],
        &["backfill", "--days", "1"],
        &["webhook", "list"],
    ] {
        let (code, stdout, stderr) = calsync(dir.path(), &VALID[..1], args).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert_eq!(
            stderr,
            "calsync: configuration error: nylas.api_key is required; set it in the config \
             file or with NYLAS_API_KEY or CALSYNC__NYLAS__API_KEY\n",
            "{args:?}"
        );
    }
}

#[tokio::test]
async fn check_reports_configuration_errors_as_its_own_lines() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("CALSYNC__SYNC__LEASE", "0s"),
        ("CALSYNC__SERVR__LISTEN", "x"),
    ];
    let (code, stdout, stderr) = calsync(dir.path(), &env, &["check"]).await;
    assert_eq!(code, Some(2), "{stdout}");
    assert_eq!(stderr, "");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines
            .iter()
            .all(|line| line.starts_with("FAIL  configuration    "))
    );
    assert!(
        stdout.contains(
            "unknown key servr.listen (from environment variable CALSYNC__SERVR__LISTEN); did \
             you mean CALSYNC__SERVER__LISTEN?"
        ),
        "{stdout}"
    );
}

#[tokio::test]
async fn an_unreadable_file_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) =
        calsync(dir.path(), VALID, &["--config", "nope.toml", "serve"]).await;
    assert_eq!(code, Some(2));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "calsync: configuration error: config file nope.toml cannot be read: No such file or \
         directory (os error 2)\n"
    );
}

#[tokio::test]
async fn a_single_underscore_variable_is_warned_with_its_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = VALID.to_vec();
    env.push(("CALSYNC_SYNC_WORKERS", "4"));
    let (code, stdout, stderr) = calsync(dir.path(), &env, &["dlq", "list"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let warning = "environment variable CALSYNC_SYNC_WORKERS is ignored: settings are \
                   CALSYNC__SECTION__KEY, with double underscores; did you mean \
                   CALSYNC__SYNC__WORKERS?";
    assert_eq!(occurrences(&stderr, warning), 1, "{stderr}");
    let line = stderr.lines().find(|line| line.contains(warning)).unwrap();
    let logged: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(logged["level"], "WARN");
    assert!(!stdout.contains(warning));

    // With an error, the warning comes before it (it may explain it).
    let (code, _, stderr) = calsync(
        dir.path(),
        &[("CALSYNC_CRM_BASE_URL", "https://crm.example.com")],
        &["check"],
    )
    .await;
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr,
        "calsync: warning: environment variable CALSYNC_CRM_BASE_URL is ignored: settings are \
         CALSYNC__SECTION__KEY, with double underscores; did you mean CALSYNC__CRM__BASE_URL?\n"
    );
}

#[tokio::test]
async fn passwords_inside_urls_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    for (var, url) in [
        (
            "CALSYNC__CRM__BASE_URL",
            "ftp://calsync:hunter2@crm.example.com/",
        ),
        ("NYLAS_API_URI", "https://calsync:hunter2@[nylas/"),
        ("CALSYNC__STORE__URL", "mysql://calsync:hunter2@db/calsync"),
    ] {
        let mut env = VALID.to_vec();
        env.push((var, url));
        for args in [&["serve"][..], &["check"]] {
            let (code, stdout, stderr) = calsync(dir.path(), &env, args).await;
            assert_eq!(code, Some(2), "{var}: {stdout}{stderr}");
            let output = format!("{stdout}{stderr}");
            assert!(output.contains(var), "{output}");
            assert!(!output.contains("hunter2"), "{output}");
        }
    }

    // Valid URLs with credentials: `check` prints the configuration and reaches each (nothing
    // answers on port 1), and shows no password.
    let store = format!("sqlite://{}", dir.path().join("calsync.db").display());
    let env = [
        (
            "CALSYNC__CRM__BASE_URL",
            "http://calsync:hunter2@127.0.0.1:1/",
        ),
        ("NYLAS_API_URI", "http://hunter2@127.0.0.1:1/"),
        ("NYLAS_API_KEY", "nyk_test"),
        ("CALSYNC__STORE__URL", store.as_str()),
    ];
    let (code, stdout, stderr) = calsync(dir.path(), &env, &["check"]).await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("  crm.base_url = http://calsync:***@127.0.0.1:1/"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  nylas.api_uri = http://***@127.0.0.1:1/"),
        "{stdout}"
    );
    assert!(
        !format!("{stdout}{stderr}").contains("hunter2"),
        "{stdout}{stderr}"
    );
}
