//! A meeting's life in every CRM: created once, updated in place, kept when cancelled,
//! soft-deleted (or, with `sync.deleted_meetings = "cancel"`, kept as cancelled); a lost create
//! found again; a record deleted in the CRM created again.

use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;
use futures::future::join_all;
use serde_json::json;

use super::subject::Subject;
use super::{CALENDAR, GRANT, app, publish};
use crate::support::harness::CrmFake;
use crate::support::payloads::{deleted_object, envelope, event};

/// Asserts that `(method, path suffix)` was sent exactly `times` times.
fn assert_sent(crm: &Subject, (method, path): (&str, String), times: usize) {
    let count = crm.count(method, &path, &[]);
    assert_eq!(count, times, "{method} …{path}: {:?}", crm.requests());
}

pub async fn crud(kind: CrmFake) {
    let app = app(kind, &[], false).await;
    let crm = Subject::of(&app, kind);
    let mut current = event("evt-1", GRANT, CALENDAR, "Discovery call", 100);
    app.nylas.put_event(current.clone());
    let created = envelope("n1", "event.created", current.clone());
    join_all((0..8).map(|_| app.notify(&created))).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let first = crm.live_for("evt-1");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].title, "Discovery call");
    assert!(!first[0].cancelled);
    let id = first[0].id.clone();
    assert_eq!(crm.writes(), 1);

    // A redelivery, or a notification without a change, writes nothing.
    app.notify(&created).await;
    assert!(app.drain().await.is_empty());
    publish(&app, "n1b", "event.updated", &current).await;
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::Unchanged)]
    );
    assert_eq!(crm.writes(), 1);

    current["title"] = json!("Discovery call (moved)");
    current["updated_at"] = json!(200);
    let update = crm.update_request(&id);
    let before = crm.count(update.0, &update.1, &[]);
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let moved = crm.live_for("evt-1");
    assert_eq!((moved.len(), moved[0].id.as_str()), (1, id.as_str()));
    assert_eq!(moved[0].title, "Discovery call (moved)");
    assert_sent(&crm, update, before + 1);

    // Cancelled is sales information: the meeting stays, marked as such.
    current["status"] = json!("cancelled");
    current["updated_at"] = json!(300);
    publish(&app, "n3", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let cancelled = crm.live_for("evt-1");
    assert_eq!(cancelled.len(), 1, "a cancelled meeting is kept");
    assert!(cancelled[0].cancelled, "{cancelled:?}");
    assert_eq!(cancelled[0].title, "Discovery call (moved)");
    assert_eq!(crm.writes(), 3);

    // Deleted from the calendar: soft-deleted in the CRM, once.
    app.nylas.remove_event(GRANT, "evt-1");
    let deleted = deleted_object("evt-1", GRANT, CALENDAR);
    app.notify(&envelope("n4", "event.deleted", deleted)).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Deleted)]);
    assert!(crm.live().is_empty());
    let all = crm.written_for("evt-1");
    assert_eq!(all.len(), 1);
    assert!(all[0].deleted);
    assert_sent(&crm, crm.delete_request(&id), 1);
    assert_eq!(crm.writes(), 4);
    crm.assert_contract();
}

pub async fn lost_create(kind: CrmFake) {
    let app = app(kind, &[], false).await;
    let crm = Subject::of(&app, kind);
    if crm.links_people() {
        crm.add_person("buyer@prospect.com", "Pat", "Buyer");
    }
    // Other recent meetings stand between calsync and its own.
    for index in 0..3 {
        let other = event(&format!("other-{index}"), GRANT, CALENDAR, "Other", 100);
        publish(&app, &format!("o{index}"), "event.created", &other).await;
    }
    app.drain().await;
    crm.lose_next_create();
    let current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, "n1", "event.created", &current).await;
    assert!(matches!(app.drain().await[..], [Settled::RetryLater(_)]));
    let lost = crm.live_for("evt-1");
    assert_eq!(lost.len(), 1, "created, answer lost");

    // The next notification for the event finds the record instead of creating another.
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let found = crm.live_for("evt-1");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, lost[0].id);
    if let Some((method, path, query)) = crm.recovery_lookup("evt-1") {
        assert_eq!(crm.count(method, &path, &query), 1, "{:?}", crm.requests());
    }
    let (method, path) = crm.recovered_write_request(&found[0].id);
    assert!(crm.count(method, &path, &[]) >= 1, "{:?}", crm.requests());
    if crm.links_people() {
        assert_eq!(crm.linked(&found[0].id), ["buyer@prospect.com"]);
    }
    crm.assert_contract();
}

pub async fn deleted_in_the_crm(kind: CrmFake) {
    let app = app(kind, &[], false).await;
    let crm = Subject::of(&app, kind);
    let mut current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, "n1", "event.created", &current).await;
    app.drain().await;
    let first = crm.live_for("evt-1")[0].id.clone();
    crm.delete_in_crm(&first);

    current["title"] = json!("Demo v2");
    current["updated_at"] = json!(200);
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let live = crm.live();
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].id, first);
    assert_eq!(live[0].title, "Demo v2");
    crm.assert_contract();
}

/// `sync.deleted_meetings = "cancel"`: a meeting whose every copy is deleted keeps its record,
/// marked cancelled exactly as a cancelled event is; nothing is deleted in the CRM.
pub async fn deleted_meeting_kept_as_cancelled(kind: CrmFake) {
    let app = app(
        kind,
        &[("CALSYNC__SYNC__DELETED_MEETINGS", "cancel")],
        false,
    )
    .await;
    let crm = Subject::of(&app, kind);
    let current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, "n1", "event.created", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let id = crm.live_for("evt-1")[0].id.clone();

    app.nylas.remove_event(GRANT, "evt-1");
    let deleted = deleted_object("evt-1", GRANT, CALENDAR);
    app.notify(&envelope("n2", "event.deleted", deleted)).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Updated)]);
    let kept = crm.live_for("evt-1");
    assert_eq!(kept.len(), 1, "the record is kept: {kept:?}");
    assert_eq!(kept[0].id, id);
    assert!(kept[0].cancelled, "{kept:?}");
    assert_eq!(kept[0].title, "Demo");
    assert_sent(&crm, crm.delete_request(&id), 0);
    assert_eq!(crm.writes(), 2, "one create, one update");

    // A redelivered deletion changes nothing more.
    let again = deleted_object("evt-1", GRANT, CALENDAR);
    app.notify(&envelope("n3", "event.deleted", again)).await;
    assert_eq!(
        app.drain().await,
        vec![Settled::Done(SyncOutcome::Unchanged)]
    );
    assert_eq!(crm.writes(), 2);
    crm.assert_contract();
}
