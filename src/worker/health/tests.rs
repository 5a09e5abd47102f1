//! The outage rule of [`Health`], step by step, in paused time.

use std::time::Duration;

use super::*;
use crate::crm::CrmError;
use crate::worker::process::SyncError;

const SECOND: Duration = Duration::from_secs(1);

fn health() -> (Health, TargetGate, TargetGate) {
    let crm = TargetGate::new("crm:rest", None);
    let nylas = TargetGate::new("nylas", None);
    let backoff = Backoff {
        initial: SECOND,
        max: Duration::from_secs(600),
    };
    let health = Health::new(crm.clone(), "rest", nylas.clone(), backoff);
    (health, crm, nylas)
}

fn is_backoff(verdict: Verdict) -> Option<Duration> {
    match verdict {
        Verdict::TargetWide {
            resume_in,
            backed_off: true,
        } => Some(resume_in),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn one_event_failing_alone_is_that_events_failure() {
    let (health, _, _) = health();
    for _ in 0..5 {
        let verdict = health.failure(Target::Crm, "evt-bad", Signal::Failing(None));
        assert_eq!(verdict, Verdict::ThisEvent);
        tokio::time::advance(Duration::from_secs(30)).await;
    }
    assert_eq!(health.admission(), Admission::Open);
}

#[tokio::test(start_paused = true)]
async fn two_events_failing_back_the_target_off_and_later_failures_do_not_escalate() {
    let (health, crm, _) = health();
    assert_eq!(
        health.failure(Target::Crm, "evt-1", Signal::Failing(None)),
        Verdict::ThisEvent
    );
    let pause = is_backoff(health.failure(Target::Crm, "evt-2", Signal::Failing(None)))
        .expect("the second event backs the target off");
    assert!(pause >= SECOND / 2 && pause <= SECOND, "{pause:?}");
    assert_eq!(crm.remaining(), pause);
    assert_eq!(health.admission(), Admission::Hold(pause));

    // A request that was in flight when the back-off began: target-wide, no further back-off.
    let verdict = health.failure(Target::Crm, "evt-3", Signal::Failing(None));
    assert_eq!(
        verdict,
        Verdict::TargetWide {
            resume_in: pause,
            backed_off: false
        }
    );

    // The pause ends: one probe at a time; its failure doubles the back-off.
    tokio::time::advance(pause).await;
    assert_eq!(health.admission(), Admission::Probe);
    let second = is_backoff(health.failure(Target::Crm, "evt-1", Signal::Failing(None)))
        .expect("a failed probe backs off again");
    assert!(second >= SECOND && second <= 2 * SECOND, "{second:?}");

    // Any healthy answer ends it all: the next lone failure is the event's again.
    crm.record_success();
    tokio::time::advance(second).await;
    assert_eq!(health.admission(), Admission::Open);
    assert_eq!(
        health.failure(Target::Crm, "evt-2", Signal::Failing(None)),
        Verdict::ThisEvent
    );
}

#[tokio::test(start_paused = true)]
async fn the_back_off_doubles_up_to_retry_max() {
    let (health, crm, _) = health();
    health.failure(Target::Crm, "a", Signal::Unreachable);
    let mut last = Duration::ZERO;
    for level in 2..=14u32 {
        tokio::time::advance(crm.remaining()).await;
        let pause = is_backoff(health.failure(Target::Crm, "a", Signal::Unreachable)).unwrap();
        let ceiling = SECOND
            .saturating_mul(2u32.saturating_pow(level - 1))
            .min(Duration::from_secs(600));
        assert!(
            pause <= ceiling && pause >= ceiling / 2,
            "{level}: {pause:?}"
        );
        last = pause;
    }
    assert!(last >= Duration::from_secs(300), "{last:?}");
}

#[tokio::test(start_paused = true)]
async fn throttles_unreachable_targets_and_auth_are_target_wide_at_once() {
    let (health, crm, nylas) = health();
    let asked = Some(2 * SECOND);
    assert_eq!(
        is_backoff(health.failure(Target::Crm, "a", Signal::Throttled(asked))),
        Some(2 * SECOND)
    );
    assert_eq!(crm.remaining(), 2 * SECOND);
    assert!(is_backoff(health.failure(Target::Nylas, "b", Signal::Unreachable)).is_some());
    assert!(!nylas.remaining().is_zero());
    let (health, _, _) = self::health();
    assert!(is_backoff(health.failure(Target::Crm, "a", Signal::Auth)).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_held_back_request_waits_for_the_pause_without_backing_off() {
    let (health, crm, _) = health();
    crm.pause_for(Duration::from_secs(90));
    let verdict = health.failure(Target::Crm, "a", Signal::HeldBack(Duration::from_secs(90)));
    assert_eq!(
        verdict,
        Verdict::TargetWide {
            resume_in: Duration::from_secs(90),
            backed_off: false
        }
    );
    assert_eq!(health.admission(), Admission::Hold(Duration::from_secs(90)));
    tokio::time::advance(Duration::from_secs(90)).await;
    assert_eq!(health.admission(), Admission::Probe);
}

#[tokio::test(start_paused = true)]
async fn failures_of_two_events_far_apart_are_not_an_outage() {
    let (health, _, _) = health();
    health.failure(Target::Crm, "a", Signal::Failing(None));
    tokio::time::advance(Duration::from_secs(601)).await;
    assert_eq!(
        health.failure(Target::Crm, "b", Signal::Failing(None)),
        Verdict::ThisEvent
    );
}

#[tokio::test(start_paused = true)]
async fn the_targets_are_tracked_apart() {
    let (health, crm, nylas) = health();
    health.failure(Target::Crm, "a", Signal::Failing(None));
    assert_eq!(
        health.failure(Target::Nylas, "b", Signal::Failing(None)),
        Verdict::ThisEvent
    );
    assert!(crm.remaining().is_zero() && nylas.remaining().is_zero());
    assert_eq!(health.label(Target::Crm), "crm:rest");
    assert_eq!(health.label(Target::Nylas), "nylas");
}

#[test]
fn errors_are_classified_by_target_and_signal() {
    let status = |status: u16, retry: Retry| {
        SyncError::Crm(CrmError::Status {
            operation: "rest create",
            status,
            message: String::new(),
            retry,
        })
    };
    let two = Some(2 * SECOND);
    let cases = [
        (status(429, Retry::After(two)), Some(Signal::Throttled(two))),
        (
            status(403, Retry::After(None)),
            Some(Signal::Throttled(None)),
        ),
        (status(503, Retry::After(None)), Some(Signal::Failing(None))),
        (status(408, Retry::After(None)), Some(Signal::Failing(None))),
        (status(401, Retry::Auth), Some(Signal::Auth)),
        (status(422, Retry::Permanent), None),
    ];
    for (error, expected) in cases {
        assert_eq!(
            error.health_signal(),
            expected.map(|signal| (Target::Crm, signal)),
            "{error}"
        );
    }
    let held = SyncError::Crm(CrmError::Shared(std::sync::Arc::new(CrmError::Throttled {
        operation: "rest update",
        wait: SECOND,
    })));
    assert_eq!(
        held.health_signal(),
        Some((Target::Crm, Signal::HeldBack(SECOND)))
    );
    assert_eq!(SyncError::CalendarUnknown.health_signal(), None);
}

#[tokio::test(start_paused = true)]
async fn a_job_that_did_not_need_the_target_ends_the_probing_but_not_the_level() {
    let (health, crm, _) = health();
    let first = is_backoff(health.failure(Target::Crm, "a", Signal::Unreachable)).unwrap();
    health.job_succeeded();
    assert_eq!(health.admission(), Admission::Hold(first), "still paused");
    tokio::time::advance(first).await;
    assert_eq!(health.admission(), Admission::Probe);
    health.job_succeeded();
    assert_eq!(health.admission(), Admission::Open);
    // No healthy answer came: the next back-off continues from the last level.
    let second = is_backoff(health.failure(Target::Crm, "a", Signal::Unreachable)).unwrap();
    assert!(second >= SECOND, "{second:?}");
    assert!(!crm.remaining().is_zero());
}
