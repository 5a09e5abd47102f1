//! The outage rule of [`Breaker`], step by step, in paused time.

use std::time::Duration;

use super::*;
use crate::crm::CrmError;
use crate::worker::process::SyncError;

const SECOND: Duration = Duration::from_secs(1);

fn new_breaker() -> (Breaker, UpstreamGate, UpstreamGate) {
    let crm = UpstreamGate::new("crm:rest", None);
    let nylas = UpstreamGate::new("nylas", None);
    let backoff = Backoff {
        initial: SECOND,
        max: Duration::from_secs(600),
    };
    let breaker = Breaker::new(crm.clone(), "rest", nylas.clone(), backoff);
    (breaker, crm, nylas)
}

fn is_backoff(verdict: Verdict) -> Option<Duration> {
    match verdict {
        Verdict::UpstreamWide {
            resume_in,
            backed_off: true,
        } => Some(resume_in),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn one_event_failing_alone_is_that_events_failure() {
    let (breaker, _, _) = new_breaker();
    for _ in 0..5 {
        let verdict = breaker.failure(Upstream::Crm, "evt-bad", Signal::Failing(None));
        assert_eq!(verdict, Verdict::ThisEvent);
        tokio::time::advance(Duration::from_secs(30)).await;
    }
    assert_eq!(breaker.admission(), Admission::Open);
}

#[tokio::test(start_paused = true)]
async fn two_events_failing_back_the_target_off_and_later_failures_do_not_escalate() {
    let (breaker, crm, _) = new_breaker();
    assert_eq!(
        breaker.failure(Upstream::Crm, "evt-1", Signal::Failing(None)),
        Verdict::ThisEvent
    );
    let pause = is_backoff(breaker.failure(Upstream::Crm, "evt-2", Signal::Failing(None)))
        .expect("the second event backs the upstream off");
    assert!(pause >= SECOND / 2 && pause <= SECOND, "{pause:?}");
    assert_eq!(crm.remaining(), pause);
    assert_eq!(breaker.admission(), Admission::Hold(pause));

    // A request that was in flight when the back-off began: upstream-wide, no further back-off.
    let verdict = breaker.failure(Upstream::Crm, "evt-3", Signal::Failing(None));
    assert_eq!(
        verdict,
        Verdict::UpstreamWide {
            resume_in: pause,
            backed_off: false
        }
    );

    // The pause ends: one probe at a time; its failure doubles the back-off.
    tokio::time::advance(pause).await;
    assert_eq!(breaker.admission(), Admission::Probe);
    let second = is_backoff(breaker.failure(Upstream::Crm, "evt-1", Signal::Failing(None)))
        .expect("a failed probe backs off again");
    assert!(second >= SECOND && second <= 2 * SECOND, "{second:?}");

    // Any healthy answer ends it all: the next lone failure is the event's again.
    crm.record_success();
    tokio::time::advance(second).await;
    assert_eq!(breaker.admission(), Admission::Open);
    assert_eq!(
        breaker.failure(Upstream::Crm, "evt-2", Signal::Failing(None)),
        Verdict::ThisEvent
    );
}

#[tokio::test(start_paused = true)]
async fn the_back_off_doubles_up_to_retry_max() {
    let (breaker, crm, _) = new_breaker();
    breaker.failure(Upstream::Crm, "a", Signal::Unreachable);
    let mut last = Duration::ZERO;
    for level in 2..=14u32 {
        tokio::time::advance(crm.remaining()).await;
        let pause = is_backoff(breaker.failure(Upstream::Crm, "a", Signal::Unreachable)).unwrap();
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
    let (breaker, crm, nylas) = new_breaker();
    let asked = Some(2 * SECOND);
    assert_eq!(
        is_backoff(breaker.failure(Upstream::Crm, "a", Signal::Throttled(asked))),
        Some(2 * SECOND)
    );
    assert_eq!(crm.remaining(), 2 * SECOND);
    assert!(is_backoff(breaker.failure(Upstream::Nylas, "b", Signal::Unreachable)).is_some());
    assert!(!nylas.remaining().is_zero());
    let (breaker, _, _) = new_breaker();
    assert!(is_backoff(breaker.failure(Upstream::Crm, "a", Signal::Auth)).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_held_back_request_waits_for_the_pause_without_backing_off() {
    let (breaker, crm, _) = new_breaker();
    crm.pause_for(Duration::from_secs(90));
    let verdict = breaker.failure(
        Upstream::Crm,
        "a",
        Signal::HeldBack(Duration::from_secs(90)),
    );
    assert_eq!(
        verdict,
        Verdict::UpstreamWide {
            resume_in: Duration::from_secs(90),
            backed_off: false
        }
    );
    assert_eq!(
        breaker.admission(),
        Admission::Hold(Duration::from_secs(90))
    );
    tokio::time::advance(Duration::from_secs(90)).await;
    assert_eq!(breaker.admission(), Admission::Probe);
}

#[tokio::test(start_paused = true)]
async fn failures_of_two_events_far_apart_are_not_an_outage() {
    let (breaker, _, _) = new_breaker();
    breaker.failure(Upstream::Crm, "a", Signal::Failing(None));
    tokio::time::advance(Duration::from_secs(601)).await;
    assert_eq!(
        breaker.failure(Upstream::Crm, "b", Signal::Failing(None)),
        Verdict::ThisEvent
    );
}

#[tokio::test(start_paused = true)]
async fn the_targets_are_tracked_apart() {
    let (breaker, crm, nylas) = new_breaker();
    breaker.failure(Upstream::Crm, "a", Signal::Failing(None));
    assert_eq!(
        breaker.failure(Upstream::Nylas, "b", Signal::Failing(None)),
        Verdict::ThisEvent
    );
    assert!(crm.remaining().is_zero() && nylas.remaining().is_zero());
    assert_eq!(breaker.label(Upstream::Crm), "crm:rest");
    assert_eq!(breaker.label(Upstream::Nylas), "nylas");
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
            error.breaker_signal(),
            expected.map(|signal| (Upstream::Crm, signal)),
            "{error}"
        );
    }
    let held = SyncError::Crm(CrmError::Shared(std::sync::Arc::new(CrmError::HeldBack {
        operation: "rest update",
        wait: SECOND,
    })));
    assert_eq!(
        held.breaker_signal(),
        Some((Upstream::Crm, Signal::HeldBack(SECOND)))
    );
    assert_eq!(SyncError::CalendarUnknown.breaker_signal(), None);
}

#[tokio::test(start_paused = true)]
async fn a_job_that_did_not_need_the_target_ends_the_probing_but_not_the_level() {
    let (breaker, crm, _) = new_breaker();
    let first = is_backoff(breaker.failure(Upstream::Crm, "a", Signal::Unreachable)).unwrap();
    breaker.job_succeeded();
    assert_eq!(breaker.admission(), Admission::Hold(first), "still paused");
    tokio::time::advance(first).await;
    assert_eq!(breaker.admission(), Admission::Probe);
    breaker.job_succeeded();
    assert_eq!(breaker.admission(), Admission::Open);
    // No healthy answer came: the next back-off continues from the last level.
    let second = is_backoff(breaker.failure(Upstream::Crm, "a", Signal::Unreachable)).unwrap();
    assert!(second >= SECOND, "{second:?}");
    assert!(!crm.remaining().is_zero());
}
