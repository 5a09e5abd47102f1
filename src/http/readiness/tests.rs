//! Readiness proves a write, rate-limited: counted probe writes under paused tokio time.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use super::*;

/// A probe write that counts its runs and fails while `failing` is set.
#[derive(Default)]
struct Writes {
    runs: AtomicUsize,
    failing: AtomicBool,
}

impl Writes {
    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    async fn write(&self, _now: Timestamp) -> Result<(), StoreError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable(sqlx::Error::Io(
                std::io::Error::other("database or disk is full (injected)"),
            )))
        } else {
            Ok(())
        }
    }
}

async fn check(health: &CommitHealth, clock: Clock, writes: &Writes) -> Result<(), NotReady> {
    health.check(clock, |now| writes.write(now)).await
}

#[tokio::test(start_paused = true)]
async fn a_proof_answers_for_its_lifetime_then_is_renewed() {
    let (health, writes, clock) = (CommitHealth::default(), Writes::default(), Clock::tokio());
    check(&health, clock, &writes).await.unwrap();
    assert_eq!(writes.runs(), 1, "the first check writes");
    for _ in 0..5 {
        check(&health, clock, &writes).await.unwrap();
    }
    assert_eq!(writes.runs(), 1, "later checks reuse the proof");

    tokio::time::advance(PROOF_TTL).await;
    check(&health, clock, &writes).await.unwrap();
    assert_eq!(writes.runs(), 2, "an expired proof is renewed");
}

#[tokio::test(start_paused = true)]
async fn a_failed_commit_is_noticed_at_once_and_failures_are_rate_limited() {
    let (health, writes, clock) = (CommitHealth::default(), Writes::default(), Clock::tokio());
    check(&health, clock, &writes).await.unwrap();

    // An ingest commit fails: the next check probes again (despite the fresh proof) and fails.
    writes.fail(true);
    health.record(false);
    assert!(matches!(
        check(&health, clock, &writes).await,
        Err(NotReady::Store(_))
    ));
    assert_eq!(writes.runs(), 2);
    for _ in 0..5 {
        let answer = check(&health, clock, &writes).await;
        assert!(matches!(answer, Err(NotReady::Recently(ref e)) if e.contains("full")));
    }
    assert_eq!(writes.runs(), 2, "checks between probes do not write");

    // The store recovers: the next probe (after the interval) commits, readiness is back.
    writes.fail(false);
    tokio::time::advance(PROOF_TTL).await;
    check(&health, clock, &writes).await.unwrap();
    assert!(!health.is_failing());
    assert_eq!(writes.runs(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_commit_after_a_failed_probe_makes_the_next_check_probe() {
    let (health, writes, clock) = (CommitHealth::default(), Writes::default(), Clock::tokio());
    writes.fail(true);
    assert!(check(&health, clock, &writes).await.is_err());
    writes.fail(false);
    health.record(true);
    check(&health, clock, &writes).await.unwrap();
    assert_eq!(writes.runs(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_checks_share_one_probe() {
    let health = Arc::new(CommitHealth::default());
    let writes = Arc::new(Writes::default());
    let clock = Clock::tokio();
    let checks: Vec<_> = (0..20)
        .map(|_| {
            let (health, writes) = (health.clone(), writes.clone());
            tokio::spawn(async move {
                health
                    .check(clock, |now| async move {
                        // A slow commit: every other check arrives while it runs.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        writes.write(now).await
                    })
                    .await
            })
        })
        .collect();
    for check in checks {
        check.await.unwrap().unwrap();
    }
    assert_eq!(writes.runs(), 1);
}

#[test]
fn a_clock_that_went_back_does_not_extend_a_proof() {
    let at = Timestamp::from_second(1_000).unwrap();
    assert!(is_recent(at, at));
    assert!(!is_recent(at, Timestamp::from_second(1_001).unwrap()));
    assert!(!is_recent(at, Timestamp::from_second(999).unwrap()));
}

#[tokio::test(start_paused = true)]
async fn a_hanging_store_is_not_ready_within_the_timeout() {
    let (health, writes, clock) = (CommitHealth::default(), Writes::default(), Clock::tokio());
    let started = tokio::time::Instant::now();
    let answer = health
        .check(clock, |_| std::future::pending::<Result<(), StoreError>>())
        .await;
    assert!(matches!(answer, Err(NotReady::Timeout)));
    assert_eq!(started.elapsed(), PROBE_TIMEOUT);
    assert!(health.is_failing());
    // The next check probes again rather than trusting anything.
    check(&health, clock, &writes).await.unwrap();
    assert_eq!(writes.runs(), 1);
}
