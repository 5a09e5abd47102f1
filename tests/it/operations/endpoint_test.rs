//! Issue 11 item 3: `calsync webhook test` against a running daemon (the real binary) and the
//! fakes: it signs a notification for a real event with the configured secret, posts it to the
//! URL Nylas delivers to (or `--url`), and follows the job in the store to its CRM record.

use std::process::Output;

use crate::support::binary::{Daemon, environment, run_command};
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::payloads::event_at;

const GRANT: &str = "grant-1";
const CALENDAR: &str = "cal-primary";

/// A deployment: a daemon on its store in a temporary directory, the fakes, and a grant whose
/// primary calendar holds two events (the second updated last).
struct Deployment {
    dir: tempfile::TempDir,
    nylas: FakeNylas,
    crm: FakeCrm,
    daemon: Daemon,
}

impl Deployment {
    async fn start() -> Deployment {
        let nylas = FakeNylas::start().await;
        let crm = FakeCrm::start().await;
        nylas.put_grant("grant-expired", "invalid");
        nylas.put_grant(GRANT, "valid");
        nylas.put_calendar(GRANT, "cal-holidays", false, true);
        nylas.put_calendar(GRANT, CALENDAR, true, false);
        let soon = jiff::Timestamp::now().as_second() + 86_400;
        nylas.put_event(event_at("evt-older", GRANT, CALENDAR, soon, 1_780_000_000));
        nylas.put_event(event_at(
            "evt-newest",
            GRANT,
            CALENDAR,
            soon + 3_600,
            1_780_000_500,
        ));
        let dir = tempfile::tempdir().unwrap();
        let daemon = Daemon::start(dir.path(), &nylas, &crm, &[]).await;
        let url = format!("{}/webhooks/nylas", daemon.base);
        nylas.add_subscription("wh-1", &url, "active", &["event.created", "event.updated"]);
        nylas.add_subscription(
            "wh-grants",
            "https://elsewhere.example/hook",
            "active",
            &["grant.expired"],
        );
        Deployment {
            dir,
            nylas,
            crm,
            daemon,
        }
    }

    async fn test(&self, extra: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
        let mut command = vec!["webhook", "test", "--wait", "20s"];
        command.extend_from_slice(args);
        let Output {
            status,
            stdout,
            stderr,
        } = run_command(self.dir.path(), &self.nylas, &self.crm, extra, &command).await;
        let stdout = String::from_utf8(stdout).unwrap();
        let stderr = String::from_utf8(stderr).unwrap();
        assert!(
            !stdout.contains(crate::support::harness::SECRET),
            "{stdout}"
        );
        (status.code(), format!("{stdout}{stderr}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_event_syncs_to_a_crm_record_then_stays_unchanged() {
    let deployment = Deployment::start().await;
    let (code, out) = deployment.test(&[], &[]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("where webhook wh-1 delivers event notifications"),
        "{out}"
    );
    assert!(
        out.contains(
            "Event: evt-newest \"Meeting evt-newest\" of grant grant-1 (calendar cal-primary)"
        ),
        "{out}"
    );
    assert!(out.contains("Answer: HTTP 200 OK"), "{out}");
    assert!(
        out.contains("Synced: CRM record crm-1 (rest:http://127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains(") was written."), "{out}");
    assert!(out.trim_end().ends_with("Webhook test passed."), "{out}");
    let records = deployment.crm.live_records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].external_event_id, "evt-newest");

    // Again: the daemon fetches the same event, and writes nothing.
    let (code, out) = deployment.test(&[], &[]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("CRM record crm-1"), "{out}");
    assert!(
        out.contains("already held this content, so nothing was written"),
        "{out}"
    );
    assert_eq!(deployment.crm.count("POST"), 1);
    // What was posted is what Nylas sends: the daemon logged it with the event.
    let logged = deployment.daemon.log_lines().join("\n");
    assert!(logged.contains("calsync-webhook-test-"), "{logged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_event_goes_to_a_named_url() {
    let deployment = Deployment::start().await;
    let url = format!("{}/webhooks/nylas", deployment.daemon.base);
    let args = [
        "--event",
        "evt-older",
        "--grant",
        GRANT,
        "--calendar",
        CALENDAR,
        "--url",
        &url,
    ];
    let (code, out) = deployment.test(&[], &args).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Event: evt-older"), "{out}");
    assert!(!out.contains("where webhook"), "{out}");
    assert_eq!(
        deployment.crm.live_records()[0].external_event_id,
        "evt-older"
    );

    let missing = ["--event", "evt-gone", "--grant", GRANT, "--url", &url];
    let (code, out) = deployment.test(&[], &missing).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("event evt-gone of grant grant-1 is not in calendar primary"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_or_no_daemon_fails_and_says_why() {
    let deployment = Deployment::start().await;
    let (code, out) = deployment
        .test(&[("NYLAS_WEBHOOK_SECRET", "not-the-daemons-secret")], &[])
        .await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Answer: HTTP 401"), "{out}");
    assert!(out.contains("not configured with this secret"), "{out}");
    assert!(!out.contains("not-the-daemons-secret"), "{out}");
    assert!(out.trim_end().ends_with("Webhook test failed."), "{out}");
    assert!(deployment.crm.live_records().is_empty());

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhooks/nylas", closed.local_addr().unwrap());
    drop(closed);
    let (code, out) = deployment.test(&[], &["--url", &url]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("No answer after"), "{out}");
    assert!(out.to_lowercase().contains("connection refused"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_dies_is_reported_with_its_error() {
    let deployment = Deployment::start().await;
    deployment.crm.poison("evt-newest", 422);
    let (code, out) = deployment.test(&[], &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Answer: HTTP 200"), "{out}");
    assert!(
        out.contains("Failed: the job became a dead letter"),
        "{out}"
    );
    assert!(out.contains("422"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_readable_store_the_answer_is_the_result() {
    let deployment = Deployment::start().await;
    let elsewhere = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", elsewhere.path().join("calsync.db").display());
    let (code, out) = deployment
        .test(&[("CALSYNC__STORE__URL", &store)], &[])
        .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("The job will not be followed"), "{out}");
    assert!(out.contains("no SQLite database at"), "{out}");
    assert!(out.contains("Answer: HTTP 200"), "{out}");
    assert!(!elsewhere.path().join("calsync.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_no_single_url_is_a_usage_error() {
    let deployment = Deployment::start().await;
    let env: Vec<(String, String)> =
        environment(deployment.dir.path(), &deployment.nylas, &deployment.crm)
            .into_iter()
            .filter(|(key, _)| key != "NYLAS_WEBHOOK_SECRET")
            .collect();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args(["webhook", "test"])
        .env_clear()
        .envs(env)
        .current_dir(deployment.dir.path())
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("no webhook secret is configured"),
        "{stderr}"
    );

    let url = format!("{}/webhooks/nylas", deployment.daemon.base);
    deployment.nylas.add_subscription(
        "wh-2",
        "https://other.example/webhooks/nylas",
        "active",
        &["event.deleted"],
    );
    let (code, out) = deployment.test(&[], &[]).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("several Nylas webhooks deliver event notifications"),
        "{out}"
    );
    assert!(
        out.contains(&url) && out.contains("https://other.example/webhooks/nylas"),
        "{out}"
    );
}
