//! Rejected credentials are loud (an error log naming the target, a metric) and make jobs wait
//! instead of dying; an expired Nylas grant pauses only that grant.

use std::time::Duration;

use calsync::store::GrantStatus;
use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::captured_logs::CapturedLogs;
use crate::support::harness::TestApp;
use crate::support::payloads::{envelope, event};

const TEN_MINUTES: Duration = Duration::from_secs(600);

async fn notify_event(app: &TestApp, id: &str, grant: &str) {
    let object = event(id, grant, "primary", "Call", 100);
    app.nylas.put_event(object.clone());
    let status = app
        .notify(&envelope(&format!("n-{id}"), "event.created", object))
        .await;
    assert_eq!(status, StatusCode::OK);
}

fn is_deferred(settled: &[Settled]) -> bool {
    matches!(settled, [Settled::Deferred(_)])
}

#[tokio::test(start_paused = true)]
async fn rejected_crm_credentials_are_loud_and_jobs_wait_instead_of_dying() {
    let (logs, _guard) = CapturedLogs::start();
    let app = TestApp::builder()
        .tokio_clock()
        .with_config(|settings| settings.sync.max_attempts = 2)
        .spawn()
        .await;
    app.crm.go_down(401);
    notify_event(&app, "evt-1", "grant-1").await;
    notify_event(&app, "evt-2", "grant-1").await;

    // One job finds out; the whole CRM target then waits, the other job is not even claimed.
    let settled = app.drain().await;
    assert!(is_deferred(&settled), "{settled:?}");
    assert_eq!(app.crm.requests().len(), 1);
    let errors = logs.find("ERROR", "rejected calsync's credentials");
    assert_eq!(errors.len(), 1, "{:?}", logs.lines());
    assert_eq!(errors[0]["crm.kind"], "rest");
    assert_eq!(errors[0]["service"], "crm:rest");
    assert!(
        app.metrics()
            .await
            .contains(r#"calsync_auth_failures_total{target="crm:rest"} 1"#)
    );

    // Far more failures than max_attempts: nothing is dead-lettered, and the CRM is asked
    // about once per back-off, not once per job and retry.
    for _ in 0..12 {
        tokio::time::advance(TEN_MINUTES).await;
        let settled = app.drain().await;
        assert!(is_deferred(&settled), "{settled:?}");
    }
    assert_eq!(app.crm.requests().len(), 13);
    assert!(app.store.list_dead_letters(10).await.unwrap().is_empty());

    // Fixing the credential fixes every job.
    app.crm.recover();
    tokio::time::advance(TEN_MINUTES).await;
    assert_eq!(
        app.drain().await,
        vec![
            Settled::Done(SyncOutcome::Created),
            Settled::Done(SyncOutcome::Created)
        ]
    );
}

#[tokio::test]
async fn an_expired_grant_pauses_only_that_grant_until_it_is_renewed() {
    let (logs, _guard) = CapturedLogs::start();
    let app = TestApp::spawn().await;
    app.nylas.expire_grant("grant-old");
    notify_event(&app, "evt-old", "grant-old").await;
    notify_event(&app, "evt-new", "grant-new").await;

    let mut settled = app.drain().await;
    settled.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(
        settled,
        vec![Settled::Done(SyncOutcome::Created), Settled::GrantPaused]
    );
    assert!(matches!(
        app.store.grant_status(&"grant-old".into()).await.unwrap(),
        GrantStatus::Paused { .. }
    ));
    assert_eq!(
        app.store.grant_status(&"grant-new".into()).await.unwrap(),
        GrantStatus::Active
    );
    let warnings = logs.find("WARN", "Nylas rejected the grant");
    assert_eq!(warnings.len(), 1, "{:?}", logs.lines());
    assert_eq!(warnings[0]["grant.id"], "grant-old");
    let metrics = app.metrics().await;
    assert!(metrics.contains("calsync_grants_paused 1"), "{metrics}");
    assert!(metrics.contains(r#"calsync_auth_failures_total{target="nylas_grant"} 1"#));

    // The paused grant's jobs are not claimed; other grants keep syncing.
    let reads = app.nylas.event_reads();
    notify_event(&app, "evt-old-2", "grant-old").await;
    notify_event(&app, "evt-new-2", "grant-new").await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(app.nylas.event_reads(), reads + 1);

    // Re-authentication (grant.updated) resumes the grant, and its jobs run.
    app.nylas.renew_grant("grant-old");
    let renewed = envelope(
        "n-renewed",
        "grant.updated",
        json!({"grant_id": "grant-old"}),
    );
    assert_eq!(app.notify(&renewed).await, StatusCode::OK);
    assert_eq!(
        app.drain().await,
        vec![
            Settled::Done(SyncOutcome::Created),
            Settled::Done(SyncOutcome::Created)
        ]
    );
    assert_eq!(app.crm.live_records().len(), 4);
    assert!(app.metrics().await.contains("calsync_grants_paused 0"));
}

#[tokio::test(start_paused = true)]
async fn a_rejected_nylas_key_makes_all_nylas_work_wait() {
    let (logs, _guard) = CapturedLogs::start();
    let app = TestApp::builder().tokio_clock().spawn().await;
    app.nylas.reject_key(true);
    notify_event(&app, "evt-1", "grant-1").await;
    notify_event(&app, "evt-2", "grant-2").await;

    let settled = app.drain().await;
    assert!(is_deferred(&settled), "{settled:?}");
    assert_eq!(
        app.nylas.event_reads(),
        1,
        "the other grant's job waits too"
    );
    let errors = logs.find("ERROR", "rejected calsync's credentials");
    assert_eq!(errors.len(), 1, "{:?}", logs.lines());
    assert_eq!(errors[0]["service"], "nylas");
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"calsync_auth_failures_total{target="nylas"} 1"#));
    assert!(metrics.contains("calsync_grants_paused 0"), "{metrics}");
    for grant in ["grant-1", "grant-2"] {
        assert_eq!(
            app.store.grant_status(&grant.into()).await.unwrap(),
            GrantStatus::Active
        );
    }
    assert_eq!(app.drain().await, vec![]);

    app.nylas.reject_key(false);
    tokio::time::advance(TEN_MINUTES).await;
    assert_eq!(
        app.drain().await,
        vec![
            Settled::Done(SyncOutcome::Created),
            Settled::Done(SyncOutcome::Created)
        ]
    );
}
