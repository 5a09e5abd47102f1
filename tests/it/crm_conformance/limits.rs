//! Every CRM saying "not now": a burst throttle, a spent daily allowance, an expired credential.
//! None of them costs an event an attempt or puts it in the dead letters.

use std::time::Duration;

use calsync::retry::Retry;
use calsync::worker::SyncOutcome;
use calsync::worker::settle::Settled;

use super::subject::Subject;
use super::{CALENDAR, GRANT, app, meetings_only, not_applicable, publish, publish_new};
use crate::support::harness::{CrmFake, TestApp};
use crate::support::payloads::event;

async fn assert_no_dead_letters(app: &TestApp) {
    assert!(app.store.list_dead_letters(10).await.unwrap().is_empty());
}

pub async fn burst_throttle(kind: CrmFake) {
    let app = app(kind, &meetings_only(kind), false).await;
    let crm = Subject::of(&app, kind);
    if !crm.throttle_burst() {
        return not_applicable(kind, "no burst limit (only the daily allocation)");
    }
    let current = event("evt-1", GRANT, CALENDAR, "A", 100);
    publish(&app, "n1", "event.created", &current).await;
    let settled = app.drain().await;
    if crm.waits_out_bursts_in_place() {
        assert_eq!(settled, vec![Settled::Done(SyncOutcome::Created)]);
    } else {
        // Deferred for the pause asked for, without counting an attempt.
        let [Settled::Deferred(wait)] = settled[..] else {
            panic!("expected a deferral, got {settled:?}");
        };
        assert!(wait <= Duration::from_secs(2), "{wait:?}");
        tokio::time::sleep(wait).await;
        assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    }
    // The throttled request is sent again once the pause is over; a deferred create is looked
    // for first (its outcome is uncertain to the worker), nothing else comes between.
    let requests = crm.requests();
    let (first, last) = (&requests[0], &requests[requests.len() - 1]);
    let gap = last.at.duration_since(first.at);
    assert!(gap.as_millis() >= 900, "retried after {gap:?}");
    assert_eq!(
        (&first.method, &first.path),
        (&last.method, &last.path),
        "the same request again"
    );
    let expected = match crm.waits_out_bursts_in_place() {
        true => 2,
        false => 2 + usize::from(crm.recovery_lookup("evt-1").is_some()),
    };
    assert_eq!(requests.len(), expected, "{requests:?}");
    assert_eq!(crm.live().len(), 1);
    assert_no_dead_letters(&app).await;
    crm.assert_contract();
}

pub async fn daily_cap(kind: CrmFake) {
    let app = app(kind, &meetings_only(kind), false).await;
    let crm = Subject::of(&app, kind);
    if !crm.prepare_daily_cap() {
        return not_applicable(kind, "no daily allowance");
    }
    let first = event("evt-1", GRANT, CALENDAR, "A", 100);
    publish(&app, "n1", "event.created", &first).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    let signs = crm.daily_cap_signs();
    let text = app.parts.metrics.render();
    for line in &signs.before {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    crm.spend_daily_cap();

    publish_new(&app, "n2", "evt-2", "B").await;
    let settled = app.drain().await;
    // The daily cap is the target's trouble: the job waits without counting an attempt.
    let [Settled::Deferred(wait)] = settled[..] else {
        panic!("expected a deferral, got {settled:?}");
    };
    assert!(
        wait.as_secs() >= signs.least_wait,
        "waits for the reset, not seconds: {wait:?}"
    );
    let seen = crm.requests().len();

    // Another event is held back without a request reaching the CRM.
    publish_new(&app, "n3", "evt-3", "C").await;
    assert!(
        app.drain().await.is_empty(),
        "nothing is claimed while the CRM is paused"
    );
    assert_eq!(crm.requests().len(), seen, "held back without a request");
    assert_eq!(crm.live().len(), 1);
    assert_no_dead_letters(&app).await;
    let text = app.parts.metrics.render();
    for line in &signs.spent {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    crm.assert_contract();
}

/// Runs with paused time: time moves only when the scenario advances it.
pub async fn expired_credential(kind: CrmFake) {
    let app = app(kind, &[], true).await;
    let crm = Subject::of(&app, kind);
    crm.expire_credential();
    let current = event("evt-1", GRANT, CALENDAR, "Demo", 100);
    publish(&app, "n1", "event.created", &current).await;
    // Rejected credentials are the target's trouble: the job waits, no attempt counted.
    assert!(matches!(app.drain().await[..], [Settled::Deferred(_)]));
    // Past the target's back-off.
    tokio::time::advance(Duration::from_secs(3600)).await;
    let check = app.parts.crm.check().await.unwrap_err();
    assert_eq!(check.retry(), Retry::Auth);
    // The check names the URL it tried.
    let shown = check.to_string();
    assert!(shown.contains("http://127.0.0.1:"), "{shown}");
    assert!(shown.contains(crm.check_probe()), "{shown}");
    assert_no_dead_letters(&app).await;

    crm.renew_credential();
    app.parts.crm.check().await.unwrap();
    publish(&app, "n2", "event.updated", &current).await;
    assert_eq!(app.drain().await, vec![Settled::Done(SyncOutcome::Created)]);
    assert_eq!(crm.live().len(), 1);
    // The first attempt may have reached the CRM: the record was looked for first.
    if let Some((method, path, query)) = crm.recovery_lookup("evt-1") {
        assert!(
            crm.count(method, &path, &query) >= 1,
            "{:?}",
            crm.requests()
        );
    }
    crm.assert_contract();
}
