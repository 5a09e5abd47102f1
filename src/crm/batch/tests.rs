//! The batcher against a recording writer, on paused time: batch forming, per-item answers,
//! and the gate.

use std::sync::Mutex;

use super::*;
use crate::retry::Retry;

/// Records every batch; fails the items named "bad", or the whole batch when told.
#[derive(Default)]
struct Recorder {
    batches: Mutex<Vec<Vec<String>>>,
    fail_all: Mutex<bool>,
}

#[async_trait]
impl BatchWrite for Arc<Recorder> {
    type Item = String;
    type Output = String;

    fn key(item: &String) -> &str {
        item
    }

    async fn write(&self, items: Vec<String>) -> Vec<Result<String, CrmError>> {
        self.batches.lock().unwrap().push(items.clone());
        let fail_all = *self.fail_all.lock().unwrap();
        let error = |status| CrmError::Status {
            operation: "test",
            status,
            message: String::new(),
            retry: crate::retry::classify_status(status, None),
        };
        items
            .into_iter()
            .map(|item| match item.as_str() {
                _ if fail_all => Err(error(503)),
                "bad" => Err(error(400)),
                _ => Ok(format!("id-{item}")),
            })
            .collect()
    }
}

fn batcher(recorder: &Arc<Recorder>, max_items: usize) -> Arc<Batcher<Arc<Recorder>>> {
    let settings = BatchSettings {
        linger: Duration::from_millis(25),
        max_items,
    };
    Arc::new(Batcher::new(recorder.clone(), settings, "test"))
}

async fn submit_all(
    batcher: &Arc<Batcher<Arc<Recorder>>>,
    items: &[&str],
) -> Vec<Result<String, CrmError>> {
    let mut tasks = Vec::new();
    for item in items {
        let batcher = batcher.clone();
        let item = item.to_string();
        tasks.push(tokio::spawn(async move { batcher.submit(item).await }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test(start_paused = true)]
async fn concurrent_items_share_one_request_and_get_their_own_answers() {
    let recorder = Arc::new(Recorder::default());
    let batcher = batcher(&recorder, 100);
    let results = submit_all(&batcher, &["a", "bad", "c"]).await;
    assert_eq!(recorder.batches.lock().unwrap().len(), 1);
    assert_eq!(results[0].as_ref().unwrap(), "id-a");
    assert!(matches!(
        results[1],
        Err(CrmError::Status { status: 400, .. })
    ));
    assert_eq!(results[1].as_ref().unwrap_err().retry(), Retry::Permanent);
    assert_eq!(results[2].as_ref().unwrap(), "id-c");
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_goes_at_once_and_the_rest_forms_the_next() {
    let recorder = Arc::new(Recorder::default());
    let batcher = batcher(&recorder, 2);
    let results = submit_all(&batcher, &["a", "b", "c", "d", "e"]).await;
    assert!(results.iter().all(Result::is_ok));
    let sizes: Vec<usize> = recorder
        .batches
        .lock()
        .unwrap()
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes, vec![2, 2, 1]);
}

#[tokio::test(start_paused = true)]
async fn one_record_never_appears_twice_in_a_batch() {
    let recorder = Arc::new(Recorder::default());
    let batcher = batcher(&recorder, 100);
    let results = submit_all(&batcher, &["a", "a", "b"]).await;
    assert!(results.iter().all(Result::is_ok));
    let batches = recorder.batches.lock().unwrap().clone();
    assert_eq!(
        batches,
        vec![vec!["a".to_owned(), "b".to_owned()], vec!["a".to_owned()]]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_request_fails_every_item_with_its_classification() {
    let recorder = Arc::new(Recorder::default());
    *recorder.fail_all.lock().unwrap() = true;
    let batcher = batcher(&recorder, 100);
    let results = submit_all(&batcher, &["a", "b"]).await;
    assert_eq!(recorder.batches.lock().unwrap().len(), 1);
    for result in results {
        assert_eq!(result.unwrap_err().retry(), Retry::After(None));
    }
}

#[tokio::test(start_paused = true)]
async fn items_after_the_linger_form_a_new_batch() {
    let recorder = Arc::new(Recorder::default());
    let batcher = batcher(&recorder, 100);
    assert_eq!(batcher.submit("a".into()).await.unwrap(), "id-a");
    assert_eq!(batcher.submit("b".into()).await.unwrap(), "id-b");
    assert_eq!(recorder.batches.lock().unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_item_nobody_waits_for_is_not_sent() {
    let recorder = Arc::new(Recorder::default());
    let batcher = batcher(&recorder, 100);
    let abandoned = tokio::spawn({
        let batcher = batcher.clone();
        async move { batcher.submit("gone".into()).await }
    });
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    abandoned.abort();
    assert_eq!(batcher.submit("kept".into()).await.unwrap(), "id-kept");
    assert_eq!(
        recorder.batches.lock().unwrap().clone(),
        vec![vec!["kept".to_owned()]]
    );
}

/// A batcher with a gate and an hour-long linger: anything sent before the hour is the gate's
/// doing.
fn gated(recorder: &Arc<Recorder>) -> (Arc<Batcher<Arc<Recorder>>>, Arc<BatchGate>) {
    let gate = BatchGate::new();
    let settings = BatchSettings {
        linger: Duration::from_secs(3600),
        max_items: 100,
    };
    let batcher = Batcher::new(recorder.clone(), settings, "test").gated(gate.clone());
    (Arc::new(batcher), gate)
}

/// Submits `item` for a job counted as running until its answer comes.
fn submit_as_job(
    batcher: &Arc<Batcher<Arc<Recorder>>>,
    running: RunningJob,
    item: &str,
) -> tokio::task::JoinHandle<Result<String, CrmError>> {
    let (batcher, item) = (batcher.clone(), item.to_owned());
    tokio::spawn(async move {
        let answer = batcher.submit(item).await;
        drop(running);
        answer
    })
}

#[tokio::test(start_paused = true)]
async fn a_gated_batch_goes_as_soon_as_every_running_job_is_in() {
    let recorder = Arc::new(Recorder::default());
    let (batcher, gate) = gated(&recorder);
    let started = Instant::now();
    let jobs: Vec<_> = ["a", "b", "c"].map(|_| gate.job_started()).into();
    let mut answers = Vec::new();
    for (job, item) in jobs.into_iter().zip(["a", "b", "c"]) {
        answers.push(submit_as_job(&batcher, job, item));
        // The jobs arrive a second apart: the batch waits for the ones still running.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for answer in answers {
        answer.await.unwrap().unwrap();
    }
    assert_eq!(
        recorder.batches.lock().unwrap().clone(),
        vec![vec!["a", "b", "c"]]
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_lone_job_is_sent_at_once() {
    let recorder = Arc::new(Recorder::default());
    let (batcher, gate) = gated(&recorder);
    let started = Instant::now();
    let answer = submit_as_job(&batcher, gate.job_started(), "a");
    assert_eq!(answer.await.unwrap().unwrap(), "id-a");
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_job_ending_without_an_item_or_parking_releases_the_batch() {
    let recorder = Arc::new(Recorder::default());
    let (batcher, gate) = gated(&recorder);
    let started = Instant::now();
    let (unchanged, locked) = (gate.job_started(), gate.job_started());
    let answer = submit_as_job(&batcher, gate.job_started(), "a");
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(unchanged);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let parked = gate.park();
    assert_eq!(answer.await.unwrap().unwrap(), "id-a");
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    drop((parked, locked));
}

#[tokio::test(start_paused = true)]
async fn a_gated_batch_waits_for_a_running_job_no_longer_than_the_linger() {
    let recorder = Arc::new(Recorder::default());
    let (batcher, gate) = gated(&recorder);
    let started = Instant::now();
    let _slow = gate.job_started();
    let answer = submit_as_job(&batcher, gate.job_started(), "a");
    assert_eq!(answer.await.unwrap().unwrap(), "id-a");
    assert_eq!(started.elapsed(), Duration::from_secs(3600));
}

#[tokio::test(start_paused = true)]
async fn without_registered_jobs_the_linger_decides() {
    let recorder = Arc::new(Recorder::default());
    let (batcher, _gate) = gated(&recorder);
    let started = Instant::now();
    assert_eq!(batcher.submit("a".into()).await.unwrap(), "id-a");
    assert_eq!(started.elapsed(), Duration::from_secs(3600));
}
