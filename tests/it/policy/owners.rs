//! Ownership: the meeting's owner set from the organizer's email (or the calendar owner's), one
//! lookup per rep for a burst, an email without a CRM user left unset and counted.

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use serde_json::json;

use crate::support::crm_app::{CALENDAR, GRANT, app, publish};
use crate::support::fake_vendor::Recorded;
use crate::support::harness::{CrmFake, TestApp};
use crate::support::payloads::event;

/// `calsync_owner_unmapped_total`.
async fn unmapped(app: &TestApp) -> u64 {
    let text = app.metrics().await;
    let line = text
        .lines()
        .find(|line| line.starts_with("calsync_owner_unmapped_total "))
        .unwrap_or_else(|| panic!("no calsync_owner_unmapped_total in:\n{text}"));
    line["calsync_owner_unmapped_total ".len()..]
        .trim()
        .parse()
        .unwrap()
}

fn organized_by(id: &str, organizer: &str) -> serde_json::Value {
    let mut meeting = event(id, GRANT, CALENDAR, "Discovery call", 100);
    meeting["organizer"] = json!({"email": organizer});
    meeting
}

#[tokio::test]
async fn hubspot_meetings_belong_to_the_organizer_with_one_lookup_per_rep() {
    let app = app(
        CrmFake::HubSpot,
        &[("CALSYNC__CRM__LINK_CONTACTS", "false")],
        false,
    )
    .await;
    app.nylas.put_grant(GRANT, "valid");
    let hubspot = app.hubspot();
    let rita = hubspot.add_owner("Rita@Seller.com");
    let calendar_owner = hubspot.add_owner("grant-1@seller.com");

    // A burst of meetings organized by one rep: one owner lookup.
    for index in 0..5 {
        let id = format!("evt-{index}");
        publish(
            &app,
            &format!("n{index}"),
            "event.created",
            &organized_by(&id, "rita@seller.com"),
        )
        .await;
    }
    // Organized by a customer: the calendar's owner owns it.
    publish(
        &app,
        "n-ext",
        "event.created",
        &organized_by("evt-ext", "buyer@prospect.com"),
    )
    .await;
    // Organized by a colleague HubSpot does not know: no owner, counted, never a failure.
    publish(
        &app,
        "n-ghost",
        "event.created",
        &organized_by("evt-ghost", "ghost@seller.com"),
    )
    .await;
    let settled = app.drain().await;
    assert_eq!(settled.len(), 7);
    assert!(
        settled
            .iter()
            .all(|s| *s == Settled::Done(SyncOutcome::Created)),
        "{settled:?}"
    );

    for index in 0..5 {
        let meeting = &hubspot.meetings_for(&format!("evt-{index}"))[0];
        assert_eq!(meeting.prop("hubspot_owner_id"), rita);
    }
    let external = &hubspot.meetings_for("evt-ext")[0];
    assert_eq!(external.prop("hubspot_owner_id"), calendar_owner);
    let ghost = &hubspot.meetings_for("evt-ghost")[0];
    assert_eq!(ghost.prop("hubspot_owner_id"), "");
    assert_eq!(unmapped(&app).await, 1);

    let lookups: Vec<String> = hubspot
        .requests()
        .into_iter()
        .filter(|seen| seen.path == "/crm/owners/2026-03")
        .map(|seen| seen.query.unwrap_or_default())
        .collect();
    assert_eq!(lookups.len(), 3, "one per email: {lookups:?}");
    hubspot.assert_contract();

    // A new organizer is an update like any other field.
    let mut moved = organized_by("evt-0", "grant-1@seller.com");
    moved["updated_at"] = json!(200);
    publish(&app, "n-moved", "event.updated", &moved).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let meeting = &hubspot.meetings_for("evt-0")[0];
    assert_eq!(meeting.prop("hubspot_owner_id"), calendar_owner);
}

#[tokio::test]
async fn the_rest_record_names_its_owner_by_email() {
    let app = app(CrmFake::Rest, &[], false).await;
    app.nylas.put_grant(GRANT, "valid");
    publish(
        &app,
        "n1",
        "event.created",
        &organized_by("evt-1", "rita@seller.com"),
    )
    .await;
    publish(
        &app,
        "n2",
        "event.created",
        &organized_by("evt-2", "buyer@prospect.com"),
    )
    .await;
    assert_eq!(app.drain().await.len(), 2);
    let owner = |id: &str| app.crm.records_for(id)[0].body["owner_email"].clone();
    assert_eq!(owner("evt-1"), "rita@seller.com");
    assert_eq!(owner("evt-2"), "grant-1@seller.com");

    let none =
        crate::support::crm_app::app(CrmFake::Rest, &[("CALSYNC__CRM__OWNER", "none")], false)
            .await;
    publish(
        &none,
        "n1",
        "event.created",
        &organized_by("evt-1", "rita@seller.com"),
    )
    .await;
    assert_eq!(none.drain().await.len(), 1);
    assert!(none.crm.records_for("evt-1")[0].body["owner_email"].is_null());
    assert!(
        none.nylas
            .requests()
            .iter()
            .all(|path| !path.ends_with("/v3/grants/grant-1"))
    );
}

#[tokio::test]
async fn pipedrive_activities_belong_to_the_organizer_with_one_lookup_per_rep() {
    let app = app(
        CrmFake::Pipedrive,
        &[("CALSYNC__CRM__LINK_CONTACTS", "false")],
        false,
    )
    .await;
    app.nylas.put_grant(GRANT, "valid");
    let pipedrive = app.pipedrive();
    let rita = pipedrive.add_user("rita@seller.com");
    // A near miss the search also returns: never taken for Rita.
    pipedrive.add_user("rita@seller.com.au");
    let calendar_owner = pipedrive.add_user("grant-1@seller.com");
    for index in 0..5 {
        let id = format!("evt-{index}");
        publish(
            &app,
            &format!("n{index}"),
            "event.created",
            &organized_by(&id, "Rita@Seller.com"),
        )
        .await;
    }
    publish(
        &app,
        "n-ext",
        "event.created",
        &organized_by("evt-ext", "buyer@prospect.com"),
    )
    .await;
    publish(
        &app,
        "n-ghost",
        "event.created",
        &organized_by("evt-ghost", "ghost@seller.com"),
    )
    .await;
    let settled = app.drain().await;
    assert!(
        settled
            .iter()
            .all(|s| *s == Settled::Done(SyncOutcome::Created)),
        "{settled:?}"
    );
    assert_eq!(settled.len(), 7);

    let owner_of = |id: &str| {
        pipedrive.activities_for(id)[0]
            .fields
            .get("owner_id")
            .cloned()
    };
    for index in 0..5 {
        assert_eq!(owner_of(&format!("evt-{index}")), Some(json!(rita)));
    }
    assert_eq!(owner_of("evt-ext"), Some(json!(calendar_owner)));
    assert_eq!(owner_of("evt-ghost"), None);
    assert_eq!(unmapped(&app).await, 1);
    let lookups = pipedrive
        .requests()
        .into_iter()
        .filter(|seen| seen.path == "/api/v1/users/find")
        .count();
    assert_eq!(lookups, 3, "one per email");
    pipedrive.assert_contract();
}

#[tokio::test]
async fn an_unmapped_owner_gets_the_default_owner() {
    let env = [
        ("CALSYNC__CRM__LINK_CONTACTS", "false"),
        ("CALSYNC__CRM__DEFAULT_OWNER", "4242"),
    ];
    let app = app(CrmFake::HubSpot, &env, false).await;
    app.nylas.put_grant(GRANT, "valid");
    publish(
        &app,
        "n1",
        "event.created",
        &organized_by("evt-1", "ghost@seller.com"),
    )
    .await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let meeting = &app.hubspot().meetings_for("evt-1")[0];
    assert_eq!(meeting.prop("hubspot_owner_id"), "4242");
    assert_eq!(unmapped(&app).await, 1);
}

#[tokio::test]
async fn salesforce_events_belong_to_the_active_user_of_the_organizer() {
    let app = app(
        CrmFake::Salesforce,
        &[("CALSYNC__CRM__LINK_CONTACTS", "false")],
        false,
    )
    .await;
    app.nylas.put_grant(GRANT, "valid");
    let org = app.salesforce.clone().unwrap();
    // A quote in the address: the SOQL literal must be escaped (the fake's parser is strict).
    let rita = org.add_user("rita.o'hara@seller.com", true);
    org.add_user("gone@seller.com", false);
    let calendar_owner = org.add_user("grant-1@seller.com", true);
    for index in 0..5 {
        let id = format!("evt-{index}");
        let meeting = organized_by(&id, "Rita.O'Hara@seller.com");
        publish(&app, &format!("n{index}"), "event.created", &meeting).await;
    }
    publish(
        &app,
        "n-ext",
        "event.created",
        &organized_by("evt-ext", "buyer@prospect.com"),
    )
    .await;
    // A deactivated user cannot own records: unmapped, the Event keeps the integration user.
    publish(
        &app,
        "n-gone",
        "event.created",
        &organized_by("evt-gone", "gone@seller.com"),
    )
    .await;
    let settled = app.drain().await;
    assert!(
        settled
            .iter()
            .all(|s| *s == Settled::Done(SyncOutcome::Created)),
        "{settled:?}"
    );
    assert_eq!(settled.len(), 7);

    let owner_of = |id: &str| org.events_for(id)[0].text("OwnerId").to_owned();
    for index in 0..5 {
        assert_eq!(owner_of(&format!("evt-{index}")), rita);
    }
    assert_eq!(owner_of("evt-ext"), calendar_owner);
    assert_eq!(owner_of("evt-gone"), "");
    assert_eq!(unmapped(&app).await, 1);
    let user_queries = org
        .requests()
        .into_iter()
        .filter(|(_, target)| target.contains("/query") && target.contains("User"))
        .count();
    assert_eq!(user_queries, 3, "one per email");
}
