//! Writes: the upsert's answers (201/200/204/300), deletes, error classes, the allocation.

use std::time::Duration;

use calsync::config::SalesforceCrmSettings;
use calsync::crm::salesforce::LIMIT_PAUSE_INITIAL;
use calsync::crm::{CrmAdapter, CrmError, ExistingRecord};
use calsync::retry::Retry;

use super::rig::{record, rig, settings, status_of};
use crate::support::fake_salesforce::FakeSalesforce;

#[tokio::test]
async fn the_upsert_is_keyed_by_our_id_so_repeats_update_the_same_event() {
    let org = FakeSalesforce::start().await;
    let rig = rig(&settings(&org));
    let id = "evt/1+x y";
    let first = rig
        .adapter
        .upsert(&record(id, &[]), ExistingRecord::None)
        .await
        .unwrap();
    assert!(first.created);
    for existing in [
        ExistingRecord::None,
        ExistingRecord::Uncertain,
        ExistingRecord::Known(&"stale".into()),
    ] {
        let again = rig
            .adapter
            .upsert(&record(id, &[]), existing)
            .await
            .unwrap();
        assert!(!again.created, "{existing:?}");
        assert_eq!(again.crm_record_id, first.crm_record_id, "{existing:?}");
    }
    assert_eq!(org.events_for(id).len(), 1);
    assert!(
        org.requests()
            .iter()
            .any(|(_, path)| path.ends_with("/Calsync_Event_Id__c/evt%2F1%2Bx%20y"))
    );
}

#[tokio::test]
async fn before_v46_an_update_answers_204_and_the_id_comes_from_what_is_known() {
    let org = FakeSalesforce::start().await;
    let mut old = settings(&org);
    old.api_version = "v45.0".into();
    let rig = rig(&old);
    let created = rig
        .adapter
        .upsert(&record("e1", &[]), ExistingRecord::None)
        .await
        .unwrap();
    let known = rig
        .adapter
        .upsert(
            &record("e1", &[]),
            ExistingRecord::Known(&created.crm_record_id),
        )
        .await
        .unwrap();
    assert_eq!(
        (known.crm_record_id.as_str(), known.created),
        (created.crm_record_id.as_str(), false)
    );
    assert_eq!(org.count("GET", "/sobjects/Event/"), 0);
    let uncertain = rig
        .adapter
        .upsert(&record("e1", &[]), ExistingRecord::Uncertain)
        .await
        .unwrap();
    assert_eq!(uncertain.crm_record_id, created.crm_record_id);
    assert_eq!(
        org.count("GET", "/sobjects/Event/Calsync_Event_Id__c/e1?fields=Id"),
        1
    );
}

#[tokio::test]
async fn duplicates_and_validation_errors_are_permanent() {
    let org = FakeSalesforce::start().await;
    org.plant_event("dup", "one");
    org.plant_event("dup", "two");
    let rig = rig(&settings(&org));
    let error = rig
        .adapter
        .upsert(&record("dup", &[]), ExistingRecord::None)
        .await
        .unwrap_err();
    let (status, message, retry) = status_of(&error);
    assert_eq!((status, retry), (300, Retry::Permanent));
    assert!(
        message.contains("duplicates of the external id exist"),
        "{message}"
    );

    let mut wrong_field = settings(&org);
    wrong_field.external_id_field = "Missing_Field__c".into();
    let error = rig_upsert_error(&wrong_field).await;
    let (status, message, retry) = status_of(&error);
    assert_eq!((status, retry), (404, Retry::Permanent));
    assert!(
        message.starts_with("NOT_FOUND: Provided external ID field does not exist"),
        "{message}"
    );
}

async fn rig_upsert_error(settings: &SalesforceCrmSettings) -> CrmError {
    rig(settings)
        .adapter
        .upsert(&record("e1", &[]), ExistingRecord::None)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_delete_goes_to_the_recycle_bin_once_and_a_missing_event_is_success() {
    let org = FakeSalesforce::start().await;
    let rig = rig(&settings(&org));
    let created = rig
        .adapter
        .upsert(&record("e1", &[]), ExistingRecord::None)
        .await
        .unwrap();
    rig.adapter
        .soft_delete(&"e1".into(), &created.crm_record_id)
        .await
        .unwrap();
    assert!(org.events_for("e1")[0].deleted);
    // Again (ENTITY_IS_DELETED) and for an id the org never had (NOT_FOUND).
    rig.adapter
        .soft_delete(&"e1".into(), &created.crm_record_id)
        .await
        .unwrap();
    rig.adapter
        .soft_delete(&"e9".into(), &"00U000000000999AAA".into())
        .await
        .unwrap();
    // Without a known id, by the external id.
    rig.adapter
        .upsert(&record("e2", &[]), ExistingRecord::None)
        .await
        .unwrap();
    rig.adapter
        .soft_delete(&"e2".into(), &"".into())
        .await
        .unwrap();
    assert!(org.live_events().is_empty());
    // A resurrected event gets a new Event.
    let again = rig
        .adapter
        .upsert(
            &record("e1", &[]),
            ExistingRecord::Known(&created.crm_record_id),
        )
        .await
        .unwrap();
    assert!(again.created && again.crm_record_id != created.crm_record_id);
}

#[tokio::test]
async fn every_answer_reports_the_daily_allocation() {
    let org = FakeSalesforce::start().await;
    let rig = rig(&settings(&org));
    rig.adapter
        .upsert(&record("e1", &[]), ExistingRecord::None)
        .await
        .unwrap();
    rig.adapter
        .upsert(&record("e2", &[]), ExistingRecord::None)
        .await
        .unwrap();
    let text = rig.metrics.render();
    assert!(
        text.contains(r#"calsync_crm_quota{kind="salesforce",quota="daily_used"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"calsync_crm_quota{kind="salesforce",quota="daily_limit"} 15000"#),
        "{text}"
    );
}

#[tokio::test]
async fn request_limit_exceeded_pauses_the_target_instead_of_failing_for_good() {
    let org = FakeSalesforce::start().await;
    let rig = rig(&settings(&org));
    rig.adapter
        .upsert(&record("e1", &[]), ExistingRecord::None)
        .await
        .unwrap();
    org.exhaust_api_limit();
    // Four requests in flight together are all refused; they pause the target once, for the
    // first step of the backoff, instead of doubling it four times.
    let burst = (0..4)
        .map(|n| record(&format!("b{n}"), &[]))
        .collect::<Vec<_>>();
    let upserts = burst
        .iter()
        .map(|r| rig.adapter.upsert(r, ExistingRecord::None));
    for result in futures::future::join_all(upserts).await {
        let (status, message, retry) = status_of(&result.unwrap_err());
        assert_eq!(
            (status, retry),
            (403, Retry::After(Some(LIMIT_PAUSE_INITIAL)))
        );
        assert!(message.starts_with("REQUEST_LIMIT_EXCEEDED"), "{message}");
    }
    let remaining = rig.transport.remaining_pause();
    assert!(
        remaining > LIMIT_PAUSE_INITIAL - Duration::from_secs(5)
            && remaining <= LIMIT_PAUSE_INITIAL,
        "{remaining:?}"
    );
    assert_eq!(org.count("PATCH", "/sobjects/Event/"), 5);

    let seen = org.requests().len();
    let held = rig
        .adapter
        .upsert(&record("e2", &[]), ExistingRecord::None)
        .await
        .unwrap_err();
    assert!(matches!(held, CrmError::HeldBack { .. }), "{held:?}");
    assert!(matches!(held.retry(), Retry::After(Some(wait)) if wait > Duration::from_secs(240)));
    assert_eq!(org.requests().len(), seen);
}
