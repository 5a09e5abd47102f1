//! A fake generic-REST CRM (the contract of crms.md): records keyed by its own id, found by
//! `external_event_id`, soft-deleted by DELETE; `GET` of the collection lists the live ones. Like real CRMs it does NOT prevent duplicates:
//! two POSTs for one event make two records, so a test can see a duplicate. It can be told to
//! fail (a status for every request, scripted answers for the next requests, a status for one
//! event's writes), to answer slowly, or to hold one event's requests until released (so a test
//! controls exactly when a job is in flight).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::Method;
use axum::routing::any;
use serde_json::Value;

use super::server;

mod answer;

/// The API key the fake accepts.
pub const CRM_KEY: &str = "crm-test-key-9f8e7d";

/// One record held by the fake.
#[derive(Debug, Clone)]
pub struct CrmRecord {
    pub id: String,
    pub external_event_id: String,
    pub body: Value,
    pub deleted: bool,
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub retry_after: Option<String>,
}

/// Requests for one event held until released.
struct HoldState {
    arrivals: AtomicUsize,
    arrived: tokio::sync::Notify,
    released: tokio::sync::Semaphore,
}

/// Handle to requests held by [`FakeCrm::hold`].
#[derive(Clone)]
pub struct Hold {
    state: Arc<HoldState>,
}

impl Hold {
    /// Waits until at least one held request has arrived.
    pub async fn arrived(&self) {
        loop {
            let notified = self.state.arrived.notified();
            if self.state.arrivals.load(Ordering::SeqCst) > 0 {
                return;
            }
            notified.await;
        }
    }

    /// Lets every held request (and every later one) through.
    pub fn release(&self) {
        self.state.released.close();
    }
}

#[derive(Default)]
struct CrmState {
    records: Vec<CrmRecord>,
    requests: Vec<(Method, String)>,
    /// When each request arrived (tokio time, so paused-time tests can measure gaps).
    times: Vec<tokio::time::Instant>,
    holds: HashMap<String, Arc<HoldState>>,
    delay: Option<Duration>,
    /// Signalled after every answered request.
    changed: Arc<tokio::sync::Notify>,
    outage: Option<u16>,
    scripted: VecDeque<Scripted>,
    /// Per external id: answer this status to writes for that event only.
    poisoned: HashMap<String, u16>,
    /// The next create is made but answered 504 (its answer is lost).
    lose_next_create: bool,
    /// The API key is refused (expired or revoked) until restored.
    key_revoked: bool,
    next_id: u64,
}

/// Handle to a running fake CRM.
#[derive(Clone)]
pub struct FakeCrm {
    pub address: SocketAddr,
    state: Arc<Mutex<CrmState>>,
}

impl FakeCrm {
    /// Starts the fake on a loopback port.
    pub async fn start() -> FakeCrm {
        let state = Arc::new(Mutex::new(CrmState::default()));
        let router = Router::new()
            .route("/api/meetings", any(answer::meetings))
            .with_state(state.clone());
        let address = server::spawn(router).await;
        FakeCrm { address, state }
    }

    /// The base URL to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Records not soft-deleted.
    pub fn live_records(&self) -> Vec<CrmRecord> {
        let state = self.state.lock().unwrap();
        state
            .records
            .iter()
            .filter(|r| !r.deleted)
            .cloned()
            .collect()
    }

    /// Every record ever created for an event (duplicates show up here).
    pub fn records_for(&self, external_event_id: &str) -> Vec<CrmRecord> {
        let state = self.state.lock().unwrap();
        state
            .records
            .iter()
            .filter(|r| r.external_event_id == external_event_id)
            .cloned()
            .collect()
    }

    /// All records, deleted or not.
    pub fn all_records(&self) -> Vec<CrmRecord> {
        self.state.lock().unwrap().records.clone()
    }

    /// How many requests with this method were answered (including failures).
    pub fn count(&self, method: &str) -> usize {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|(m, _)| m.as_str() == method)
            .count()
    }

    /// Every request (method, path and query) so far.
    pub fn requests(&self) -> Vec<(Method, String)> {
        self.state.lock().unwrap().requests.clone()
    }

    /// When each request arrived, in order (tokio time).
    pub fn request_times(&self) -> Vec<tokio::time::Instant> {
        self.state.lock().unwrap().times.clone()
    }

    /// Forgets the request log (records stay).
    pub fn reset_counts(&self) {
        let mut state = self.state.lock().unwrap();
        state.requests.clear();
        state.times.clear();
    }

    /// Holds every request about this event (before answering it) until the returned handle is
    /// released.
    pub fn hold(&self, external_event_id: &str) -> Hold {
        let state = Arc::new(HoldState {
            arrivals: AtomicUsize::new(0),
            arrived: tokio::sync::Notify::new(),
            released: tokio::sync::Semaphore::new(0),
        });
        self.state
            .lock()
            .unwrap()
            .holds
            .insert(external_event_id.to_string(), state.clone());
        Hold { state }
    }

    /// Stops holding *new* requests about this event; requests already held stay held until
    /// their [`Hold`] is released (or forever: a request the client gave up on).
    pub fn unhold(&self, external_event_id: &str) {
        self.state.lock().unwrap().holds.remove(external_event_id);
    }

    /// Waits (at most `limit`, in tokio time) until at least `count` live records exist;
    /// whether they do.
    pub async fn wait_for_live(&self, count: usize, limit: Duration) -> bool {
        let changed = self.state.lock().unwrap().changed.clone();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = changed.notified();
            if self.live_records().len() >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.live_records().len() >= count;
            }
        }
    }

    /// Waits (at most `limit`, in tokio time) until at least `count` requests arrived.
    pub async fn wait_for_requests(&self, count: usize, limit: Duration) -> bool {
        let changed = self.state.lock().unwrap().changed.clone();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = changed.notified();
            if self.requests().len() >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.requests().len() >= count;
            }
        }
    }

    /// Answers every request only after `delay` (a slow CRM).
    pub fn slow_down(&self, delay: Duration) {
        self.state.lock().unwrap().delay = Some(delay);
    }

    /// Answers every request with `status` until [`FakeCrm::recover`].
    pub fn go_down(&self, status: u16) {
        self.state.lock().unwrap().outage = Some(status);
    }

    /// Ends an outage.
    pub fn recover(&self) {
        self.state.lock().unwrap().outage = None;
    }

    /// The next requests get these answers, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.state.lock().unwrap().scripted.extend(answers);
    }

    /// Writes for this event answer `status` (e.g. 422) until [`FakeCrm::cure`].
    pub fn poison(&self, external_event_id: &str, status: u16) {
        let mut state = self.state.lock().unwrap();
        state.poisoned.insert(external_event_id.to_string(), status);
    }

    /// The next POST creates its record but answers 504, as if the answer were lost.
    pub fn lose_next_create(&self) {
        self.state.lock().unwrap().lose_next_create = true;
    }

    /// Deletes a record in the CRM (by its CRM id), as a user would.
    pub fn remove(&self, id: &str) {
        let mut state = self.state.lock().unwrap();
        let found = state.records.iter_mut().filter(|record| record.id == id);
        found.for_each(|record| record.deleted = true);
    }

    /// Refuses the API key (401) until [`FakeCrm::restore_key`], as after its expiry.
    pub fn revoke_key(&self) {
        self.state.lock().unwrap().key_revoked = true;
    }

    /// Accepts the API key again.
    pub fn restore_key(&self) {
        self.state.lock().unwrap().key_revoked = false;
    }

    /// Stops poisoning an event.
    pub fn cure(&self, external_event_id: &str) {
        self.state
            .lock()
            .unwrap()
            .poisoned
            .remove(external_event_id);
    }
}
