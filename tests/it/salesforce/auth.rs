//! Tokens: the client-credentials request, its failures, one shared refresh, and `check`.

use calsync::crm::{CrmAdapter, ExistingRecord};
use calsync::record::MeetingRecord;
use calsync::retry::Retry;
use futures::future::join_all;
use secrecy::SecretString;

use super::rig::{record, rig, settings, status_of};
use crate::support::fake_salesforce::FakeSalesforce;

#[tokio::test]
async fn a_rejected_client_is_an_auth_failure_that_never_shows_the_secret() {
    let org = FakeSalesforce::start().await;
    let mut wrong = settings(&org);
    wrong.client_secret = SecretString::from("not-the-secret-123");
    let error = rig(&wrong)
        .adapter
        .upsert(&record("e1", &[]), ExistingRecord::None)
        .await
        .unwrap_err();
    let (status, message, retry) = status_of(&error);
    assert_eq!((status, retry), (400, Retry::Auth));
    assert_eq!(message, "invalid_client: invalid client credentials");
    assert!(!error.to_string().contains("not-the-secret-123"));
    assert!(org.requests().is_empty(), "no API call without a token");
}

#[tokio::test]
async fn a_token_endpoint_outage_is_retryable() {
    let org = FakeSalesforce::start().await;
    org.fail_token_requests([503]);
    let rig = rig(&settings(&org));
    let error = rig
        .adapter
        .upsert(&record("e1", &[]), ExistingRecord::None)
        .await
        .unwrap_err();
    assert_eq!(status_of(&error).2, Retry::After(None));
    let outcome = rig
        .adapter
        .upsert(&record("e1", &[]), ExistingRecord::None)
        .await
        .unwrap();
    assert!(outcome.created);
    assert_eq!(org.token_requests(), 2);
}

#[tokio::test]
async fn concurrent_calls_share_one_token_and_one_refresh() {
    let org = FakeSalesforce::start().await;
    let rig = rig(&settings(&org));
    let records: Vec<MeetingRecord> = (0..8).map(|n| record(&format!("e{n}"), &[])).collect();
    let upserts = records
        .iter()
        .map(|r| rig.adapter.upsert(r, ExistingRecord::None));
    assert!(join_all(upserts).await.iter().all(Result::is_ok));
    assert_eq!(org.token_requests(), 1);

    org.expire_tokens();
    let upserts = records
        .iter()
        .map(|r| rig.adapter.upsert(r, ExistingRecord::Uncertain));
    for outcome in join_all(upserts).await {
        assert!(!outcome.unwrap().created);
    }
    assert_eq!(org.token_requests(), 2, "one refresh for the whole burst");
    assert_eq!(org.live_events().len(), 8);
}

#[tokio::test]
async fn a_session_rejected_after_a_refresh_is_an_auth_failure() {
    let org = FakeSalesforce::start().await;
    let rig = rig(&settings(&org));
    rig.adapter
        .upsert(&record("e1", &[]), ExistingRecord::None)
        .await
        .unwrap();
    org.revoke_sessions();
    let error = rig
        .adapter
        .upsert(&record("e1", &[]), ExistingRecord::None)
        .await
        .unwrap_err();
    let (status, message, retry) = status_of(&error);
    assert_eq!((status, retry), (401, Retry::Auth));
    assert_eq!(message, "INVALID_SESSION_ID: Session expired or invalid");
    assert_eq!(org.token_requests(), 2, "refreshed once, not in a loop");
}

#[tokio::test]
async fn check_proves_the_credentials_and_the_external_id_field() {
    let org = FakeSalesforce::start().await;
    rig(&settings(&org)).adapter.check().await.unwrap();

    let mut wrong_field = settings(&org);
    wrong_field.external_id_field = "Missing_Field__c".into();
    let error = rig(&wrong_field).adapter.check().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("Event has no field Missing_Field__c"),
        "{error}"
    );

    let mut wrong_secret = settings(&org);
    wrong_secret.client_secret = SecretString::from("nope");
    let error = rig(&wrong_secret).adapter.check().await.unwrap_err();
    assert_eq!(error.retry(), Retry::Auth);
    // The check names the URL it tried: here the token endpoint.
    let tried = format!("POST {}", wrong_secret.token_url);
    assert!(error.to_string().contains(&tried), "{error}");

    // Without Shared Activities, check teaches the adapter to leave EventWhoIds out.
    org.set_shared_activities(false);
    let rig = rig(&settings(&org));
    rig.adapter.check().await.unwrap();
    rig.adapter
        .upsert(&record("e1", &[]), ExistingRecord::None)
        .await
        .unwrap();
    assert_eq!(org.count("PATCH", "/sobjects/Event/"), 1);
}
