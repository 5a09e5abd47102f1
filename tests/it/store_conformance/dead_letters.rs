//! Dead letters: failed jobs move out of the queue, and an operator can put them back.

use calsync::store::{DeadLetterSelection, JobSource, RetryPlan};

use super::{Backend, LEASE, at, upsert};

/// Enqueues `key` at `when`, claims it and buries it; returns the dead letter id.
async fn bury(backend: &Backend, key: &str, version: i64, when: i64) -> i64 {
    let store = &backend.store;
    store
        .enqueue(&[upsert(key, version)], at(when))
        .await
        .unwrap();
    let claimed = store
        .claim_key(&key.into(), "w1", at(when), LEASE)
        .await
        .unwrap();
    let claimed = claimed.expect("claimable");
    store
        .dead_letter(&claimed.lease, &format!("{key} was rejected"), at(when + 1))
        .await
        .unwrap()
        .expect("a dead letter")
}

pub async fn dead_letter_moves_the_job(backend: Backend) {
    let store = &backend.store;
    let job = upsert("e1", 1);
    store
        .enqueue(std::slice::from_ref(&job), at(0))
        .await
        .unwrap();
    let claimed = store.claim("w1", at(0), LEASE, 10).await.unwrap().remove(0);
    let plan = RetryPlan {
        at: at(10),
        error: "CRM answered 500".into(),
        count_attempt: true,
    };
    store.retry(&claimed.lease, &plan, at(1)).await.unwrap();
    let claimed = store
        .claim("w1", at(10), LEASE, 10)
        .await
        .unwrap()
        .remove(0);

    let id = store
        .dead_letter(&claimed.lease, "CRM answered 422", at(11))
        .await
        .unwrap()
        .expect("a dead letter was written");

    assert!(
        store
            .claim("w1", at(1000), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
    let letters = store.list_dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.id, id);
    assert_eq!(letter.request, job);
    assert_eq!(letter.attempts, 2, "the failure that killed it counts");
    assert_eq!(letter.last_error, "CRM answered 422");
    assert_eq!(letter.enqueued_at, at(0));
    assert_eq!(letter.dead_at, at(11));
    assert_eq!(store.job_stats(at(11)).await.unwrap().dead, 1);
}

pub async fn list_is_oldest_first_and_limited(backend: Backend) {
    let first = bury(&backend, "e1", 1, 0).await;
    let second = bury(&backend, "e2", 1, 10).await;
    let third = bury(&backend, "e3", 1, 20).await;
    assert!(first < second && second < third);

    let all = backend.store.list_dead_letters(10).await.unwrap();
    let ids: Vec<i64> = all.iter().map(|l| l.id).collect();
    assert_eq!(ids, [first, second, third]);
    let two = backend.store.list_dead_letters(2).await.unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(two[0].request.record_key, "e1");
}

pub async fn retry_by_id_and_all(backend: Backend) {
    let store = &backend.store;
    let first = bury(&backend, "e1", 1, 0).await;
    let second = bury(&backend, "e2", 1, 10).await;
    let third = bury(&backend, "e3", 1, 20).await;

    let requeued = store
        .retry_dead_letters(&DeadLetterSelection::Ids(vec![second, 424_242]), at(30))
        .await
        .unwrap();
    assert_eq!(requeued, 1, "unknown ids are ignored");
    let remaining: Vec<i64> = store
        .list_dead_letters(10)
        .await
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(remaining, [first, third]);
    let claimed = store.claim("w1", at(30), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].request.record_key, "e2");
    assert_eq!(claimed[0].request.source, JobSource::DeadLetterRetry);
    assert_eq!(claimed[0].request.payload, upsert("e2", 1).payload);
    assert_eq!(claimed[0].attempts, 0);

    let requeued = store
        .retry_dead_letters(&DeadLetterSelection::All, at(40))
        .await
        .unwrap();
    assert_eq!(requeued, 2);
    assert!(store.list_dead_letters(10).await.unwrap().is_empty());
    assert_eq!(store.claim("w1", at(40), LEASE, 10).await.unwrap().len(), 2);
}

pub async fn retry_coalesces_with_pending_jobs(backend: Backend) {
    let store = &backend.store;
    bury(&backend, "old", 3, 0).await;
    bury(&backend, "new", 8, 0).await;
    // Meanwhile newer content for `old` and older content for `new` are pending.
    store
        .enqueue(&[upsert("old", 5), upsert("new", 6)], at(10))
        .await
        .unwrap();

    let requeued = store
        .retry_dead_letters(&DeadLetterSelection::All, at(20))
        .await
        .unwrap();
    assert_eq!(requeued, 2);
    assert!(store.list_dead_letters(10).await.unwrap().is_empty());

    let claimed = store.claim("w1", at(20), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "still one job per key");
    for job in claimed {
        match job.request.record_key.as_str() {
            "old" => assert_eq!(job.request.version, Some(5), "the stale retry was dropped"),
            "new" => {
                assert_eq!(job.request.version, Some(8));
                assert_eq!(job.request.source, JobSource::DeadLetterRetry);
            }
            other => panic!("unexpected job {other}"),
        }
    }
}
