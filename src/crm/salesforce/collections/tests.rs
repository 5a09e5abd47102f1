//! The collections module's own rules: the batch size, the API version, the ids list, and
//! per-item results read as single answers.

use super::*;

#[test]
fn the_default_batch_size_is_the_collections_maximum() {
    assert_eq!(
        crate::config::defaults::crm::salesforce_batch_size(),
        MAX_BATCH
    );
}

#[test]
fn collections_start_at_version_46() {
    assert_eq!(major_version("v62.0"), 62);
    assert!(major_version("v45.0") < FIRST_VERSION);
    assert_eq!(major_version("v46.0"), FIRST_VERSION);
    assert_eq!(major_version("latest"), 0);
}

#[test]
fn only_plain_record_ids_go_in_the_ids_list() {
    assert!(batchable_id("00U000000000001AAA"));
    assert!(!batchable_id(""));
    assert!(!batchable_id("00U1,00U2"));
}

#[test]
fn an_item_error_reads_as_the_single_requests_answer() {
    let entry: ItemResult = serde_json::from_value(json!({
        "id": null, "success": false,
        "errors": [{"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Subject]", "fields": ["Subject"]}]
    }))
    .unwrap();
    let sent = entry.as_single_answer();
    assert_eq!(sent.status, StatusCode::BAD_REQUEST);
    let errors = errors::parse_errors(&sent.body);
    assert_eq!(errors[0].error_code, "REQUIRED_FIELD_MISSING");
    assert_eq!(errors[0].fields, vec!["Subject"]);

    let created: ItemResult = serde_json::from_value(
        json!({"id": "00U1", "success": true, "errors": [], "created": true}),
    )
    .unwrap();
    assert_eq!(created.as_single_answer().status, StatusCode::CREATED);
}
