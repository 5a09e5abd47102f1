//! Item 12: `calsync check` through the real binary against the fakes: one line per check,
//! exit 0 when everything passes, 1 with a clear line when a credential is wrong, secrets never
//! printed.

use std::process::Output;

use crate::support::binary::run_command;
use crate::support::fake_crm::{CRM_KEY, FakeCrm};
use crate::support::fake_nylas::{FakeNylas, NYLAS_KEY};
use crate::support::harness::SECRET;

struct Checked {
    code: Option<i32>,
    stdout: String,
}

async fn check(extra: &[(&str, &str)]) -> Checked {
    let nylas = FakeNylas::start().await;
    nylas.put_grant("grant-1", "valid");
    nylas.add_webhook(
        "wh-1",
        "https://calsync.example.com/webhooks/nylas",
        "active",
        &["event.created", "event.updated", "event.deleted"],
    );
    let crm = FakeCrm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let Output { status, stdout, .. } =
        run_command(dir.path(), &nylas, &crm, extra, &["check"]).await;
    let stdout = String::from_utf8(stdout).unwrap();
    for secret in [NYLAS_KEY, CRM_KEY, SECRET] {
        assert!(!stdout.contains(secret), "a secret was printed:\n{stdout}");
    }
    Checked {
        code: status.code(),
        stdout,
    }
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
async fn a_wrong_nylas_key_fails_the_nylas_line_and_skips_the_webhooks() {
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
