//! Item 12: `calsync check` through the real binary against the fakes: one line per check,
//! exit 0 when everything passes, 1 with a clear line when a credential is wrong, secrets never
//! printed. Issue 11 item 6: it tells the truth (a wrong CRM path is a failure naming the URL)
//! and changes nothing (no store created, no dry-run file, nothing in the working directory).

use std::path::Path;
use std::process::Output;

use calsync::store;

use crate::support::binary::{environment, listing, run_command};
use crate::support::fake_crm::{CRM_KEY, FakeCrm};
use crate::support::fake_nylas::{FakeNylas, NYLAS_KEY};
use crate::support::harness::SECRET;

struct Checked {
    code: Option<i32>,
    stdout: String,
}

/// A Nylas with a grant and a healthy webhook, and a CRM.
async fn fakes() -> (FakeNylas, FakeCrm) {
    let nylas = FakeNylas::start().await;
    nylas.put_grant("grant-1", "valid");
    nylas.add_subscription(
        "wh-1",
        "https://calsync.example.com/webhooks/nylas",
        "active",
        &["event.created", "event.updated", "event.deleted"],
    );
    (nylas, FakeCrm::start().await)
}

/// Creates the store `serve` would have created in `dir`.
async fn create_store(dir: &Path) {
    let url = format!("sqlite://{}", dir.join("calsync.db").display());
    store::open(&url).await.unwrap().close().await;
}

fn checked(output: Output) -> Checked {
    let stdout = String::from_utf8(output.stdout).unwrap();
    for secret in [NYLAS_KEY, CRM_KEY, SECRET] {
        assert!(!stdout.contains(secret), "a secret was printed:\n{stdout}");
    }
    Checked {
        code: output.status.code(),
        stdout,
    }
}

/// `calsync check` with its store created beforehand, as after a first `serve`.
async fn check(extra: &[(&str, &str)]) -> Checked {
    let (nylas, crm) = fakes().await;
    let dir = tempfile::tempdir().unwrap();
    create_store(dir.path()).await;
    checked(run_command(dir.path(), &nylas, &crm, extra, &["check"]).await)
}

fn line<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| {
            line.get(6..)
                .is_some_and(|rest| rest.starts_with(&format!("{name} ")))
        })
        .unwrap_or_else(|| panic!("no {name} line in:\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_with_the_configured_credentials() {
    let checked = check(&[]).await;
    let out = &checked.stdout;
    assert_eq!(checked.code, Some(0), "{out}");
    assert!(out.contains("  nylas.api_key = ***"), "{out}");
    assert!(out.contains("  crm.api_key = ***"), "{out}");
    assert!(out.contains("  nylas.webhook_secrets = "), "{out}");
    for name in [
        "configuration",
        "webhook secrets",
        "nylas",
        "webhooks",
        "crm",
        "store",
    ] {
        assert!(line(out, name).starts_with("PASS"), "{out}");
    }
    assert!(line(out, "webhooks").contains("1 active"), "{out}");
    assert!(out.trim_end().ends_with("All checks passed."), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_crm_key_fails_the_crm_line_and_the_exit_code() {
    let checked = check(&[("CRM_API_KEY", "crm-wrong-key")]).await;
    let out = &checked.stdout;
    assert_eq!(checked.code, Some(1), "{out}");
    let crm = line(out, "crm");
    assert!(crm.starts_with("FAIL"), "{out}");
    assert!(
        crm.contains("401") && crm.contains("rejected the configured credentials"),
        "{out}"
    );
    assert!(line(out, "nylas").starts_with("PASS"), "{out}");
    assert!(!out.contains("crm-wrong-key"), "{out}");
    assert!(out.trim_end().ends_with("1 check(s) failed."), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_nylas_key_fails_the_nylas_line_and_skips_the_subscriptions() {
    let checked = check(&[("NYLAS_API_KEY", "nyk_wrong")]).await;
    let out = &checked.stdout;
    assert_eq!(checked.code, Some(1), "{out}");
    let nylas = line(out, "nylas");
    assert!(nylas.starts_with("FAIL"), "{out}");
    assert!(
        nylas.contains("401") && nylas.contains("API key was rejected"),
        "{out}"
    );
    assert!(line(out, "webhooks").starts_with("SKIP"), "{out}");
    assert!(line(out, "crm").starts_with("PASS"), "{out}");
    assert!(!out.contains("nyk_wrong"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_is_reported_in_the_check_format() {
    let checked = check(&[("CALSYNC__SYNC__WORKERS", "many")]).await;
    assert_eq!(checked.code, Some(2), "{}", checked.stdout);
    assert!(
        checked.stdout.starts_with("FAIL  configuration")
            && checked.stdout.contains("sync.workers"),
        "{}",
        checked.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_crm_path_fails_naming_the_url_tried() {
    let checked = check(&[("CALSYNC__CRM__MEETINGS_PATH", "/api/meeting")]).await;
    let out = &checked.stdout;
    assert_eq!(checked.code, Some(1), "{out}");
    let crm = line(out, "crm");
    assert!(crm.starts_with("FAIL"), "{out}");
    assert!(crm.contains("404"), "{out}");
    assert!(
        crm.contains("/api/meeting") && crm.contains("http://127.0.0.1:"),
        "{out}"
    );
    assert!(crm.contains("crm.meetings_path"), "{out}");
    assert!(out.trim_end().ends_with("1 check(s) failed."), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_crm_fails_naming_the_url_tried() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let checked = check(&[("CALSYNC__CRM__BASE_URL", &base)]).await;
    let out = &checked.stdout;
    assert_eq!(checked.code, Some(1), "{out}");
    let crm = line(out, "crm");
    assert!(crm.starts_with("FAIL"), "{out}");
    assert!(crm.contains(&format!("{base}/api/meetings")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_sqlite_file_is_reported_and_not_created() {
    let (nylas, crm) = fakes().await;
    let dir = tempfile::tempdir().unwrap();
    let checked = checked(run_command(dir.path(), &nylas, &crm, &[], &["check"]).await);
    let out = &checked.stdout;
    assert_eq!(checked.code, Some(1), "{out}");
    let store_line = line(out, "store");
    assert!(store_line.starts_with("FAIL"), "{out}");
    let path = dir.path().join("calsync.db");
    assert!(
        store_line.contains(&format!("no SQLite database at {}", path.display())),
        "{out}"
    );
    assert!(!path.exists(), "check created the store");
    assert_eq!(listing(dir.path()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_writes_nothing_in_the_working_directory() {
    let (nylas, crm) = fakes().await;
    let dir = tempfile::tempdir().unwrap();
    create_store(dir.path()).await;
    let before = listing(dir.path());
    assert_eq!(before, ["calsync.db"]);
    // The defaults' relative store path and a relative dry-run file, both in the working
    // directory: the configuration a newcomer runs `check` with.
    let mut env: Vec<(String, String)> = environment(dir.path(), &nylas, &crm)
        .into_iter()
        .filter(|(key, _)| !key.contains("CRM") && key != "CALSYNC__STORE__URL")
        .collect();
    env.push(("CALSYNC__CRM__KIND".into(), "jsonl".into()));
    env.push(("CALSYNC__CRM__PATH".into(), "out/dry-run.jsonl".into()));
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_calsync"))
        .arg("check")
        .env_clear()
        .envs(env)
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    let checked = checked(output);
    let out = &checked.stdout;
    assert_eq!(checked.code, Some(0), "{out}");
    assert!(line(out, "crm").starts_with("PASS"), "{out}");
    assert!(line(out, "store").starts_with("PASS"), "{out}");
    assert_eq!(listing(dir.path()), before, "{out}");
}
