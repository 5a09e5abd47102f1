//! Contact linking: SOQL escaping with hostile emails, query paging, converted leads.

use calsync::crm::contacts::LOOKUP_TTL;
use calsync::crm::{CrmAdapter, ExistingRecord};
use calsync::retry::Retry;
use serde_json::json;

use super::rig::{record, rig, settings, status_of};
use crate::support::fake_salesforce::FakeSalesforce;

#[tokio::test]
async fn hostile_emails_are_escaped_in_soql_and_still_found() {
    let org = FakeSalesforce::start().await;
    let emails = [
        "o'brien@x.com",
        r"a\'@x.com",
        r"a\\'@x.com",
        "x') or email != ('@x.com",
    ];
    let ids: Vec<String> = emails
        .iter()
        .map(|email| org.add_contact(email, "Hostile"))
        .collect();
    let rig = rig(&settings(&org));
    rig.adapter
        .upsert(&record("e1", &emails), ExistingRecord::None)
        .await
        .unwrap();
    let event = &org.live_events()[0];
    assert_eq!(event.fields["EventWhoIds"], json!(ids));
    assert_eq!(org.count("GET", "/query"), 1);
}

#[tokio::test]
async fn query_pages_are_followed_and_converted_leads_are_not_linked() {
    let org = FakeSalesforce::start().await;
    org.set_page_size(1);
    let contacts: Vec<String> = ["a@x.com", "b@x.com", "c@x.com"]
        .iter()
        .map(|e| org.add_contact(e, "P"))
        .collect();
    org.add_lead("converted@y.com", true);
    let rig = rig(&settings(&org));
    let emails = [
        "a@x.com",
        "b@x.com",
        "c@x.com",
        "converted@y.com",
        "me@seller.com",
    ];
    rig.adapter
        .upsert(&record("e1", &emails), ExistingRecord::None)
        .await
        .unwrap();
    let event = &org.live_events()[0];
    assert_eq!(event.fields["EventWhoIds"], json!(contacts));
    assert_eq!(org.count("GET", "/query/01gFAKE"), 2, "two more pages");

    rig.adapter
        .upsert(&record("e2", &["converted@y.com"]), ExistingRecord::None)
        .await
        .unwrap();
    assert_eq!(
        org.events_for("e2")[0].fields["WhoId"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn a_contact_deleted_since_its_lookup_delays_the_meeting_instead_of_burying_it() {
    let org = FakeSalesforce::start().await;
    let merged = org.add_contact("buyer@prospect.com", "Buyer");
    let rig = rig(&settings(&org));
    let meeting = record("e1", &["buyer@prospect.com"]);
    rig.adapter
        .upsert(&meeting, ExistingRecord::None)
        .await
        .unwrap();
    org.delete_record(&merged);
    let error = rig
        .adapter
        .upsert(&meeting, ExistingRecord::None)
        .await
        .unwrap_err();
    let (status, message, retry) = status_of(&error);
    assert_eq!((status, retry), (400, Retry::After(Some(LOOKUP_TTL))));
    assert!(
        message.starts_with("FIELD_INTEGRITY_EXCEPTION"),
        "{message}"
    );
    assert!(message.contains("deleted or merged"), "{message}");
}
