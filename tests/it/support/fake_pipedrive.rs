//! A stateful fake Pipedrive API v2 (`crms.md`, "Pipedrive"): activities created, patched and
//! deleted (marked `is_deleted`), listed by update time with cursor paging; persons searched by
//! exact email and created; the `x-api-token` header; the daily token budget (each operation
//! costs its `x-token-cost`) and the 2-second burst window, with Pipedrive's rate-limit headers
//! on every answer and 429s when exceeded; token expiry (401).
//!
//! Like Pipedrive it does not prevent duplicates and cannot find an activity by calsync's id.
//! Every request is first checked against the official OpenAPI spec ([`Contract::pipedrive`],
//! strict on field names, since Pipedrive itself silently ignores unknown ones): a violation is
//! recorded and answered 400, and [`FakePipedrive::assert_contract`] fails the test. Its own
//! answers are checked against the response schemas too.

mod routes;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::any;
use serde_json::{Map, Value};

use super::fake_vendor::{Ledger, Recorded};
use super::server;

/// The API token the fake accepts.
pub const PIPEDRIVE_TOKEN: &str = "pd-test-token-0f1e2d3c";

/// The daily token budget of a fresh company.
pub const DAILY_BUDGET: i64 = 30_000;

/// One activity.
#[derive(Debug, Clone)]
pub struct Activity {
    pub id: i64,
    pub fields: Map<String, Value>,
    pub deleted: bool,
    pub update_time: jiff::Timestamp,
}

impl Activity {
    /// A string field ("" when unset).
    pub fn text(&self, name: &str) -> &str {
        self.fields.get(name).and_then(Value::as_str).unwrap_or("")
    }

    /// The person ids of `participants`, in order.
    pub fn participant_ids(&self) -> Vec<i64> {
        self.fields
            .get("participants")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p["person_id"].as_i64())
            .collect()
    }
}

/// One person.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub emails: Vec<String>,
}

#[derive(Default)]
pub(super) struct State {
    activities: Vec<Activity>,
    persons: Vec<Person>,
    /// Users (who can own activities): id and email.
    users: Vec<(i64, String)>,
    next_id: i64,
    ledger: Ledger,
    bursts: VecDeque<u64>,
    token_expired: bool,
    lose_next_create: bool,
    budget: i64,
}

/// Handle to a running fake Pipedrive.
#[derive(Clone)]
pub struct FakePipedrive {
    pub address: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakePipedrive {
    /// Starts the fake with a full daily budget.
    pub async fn start() -> FakePipedrive {
        let state = State {
            next_id: 500,
            budget: DAILY_BUDGET,
            ..State::default()
        };
        let state = Arc::new(Mutex::new(state));
        let router = Router::new()
            .fallback(any(routes::handle))
            .with_state(state.clone());
        let address = server::spawn(router).await;
        FakePipedrive { address, state }
    }

    /// The base URL to configure (the company URL, without `/api/v2`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Activities not deleted.
    pub fn live_activities(&self) -> Vec<Activity> {
        self.with(|s| {
            s.activities
                .iter()
                .filter(|a| !a.deleted)
                .cloned()
                .collect()
        })
    }

    /// Every activity whose note carries the marker of `event_id` (deleted ones included).
    pub fn activities_for(&self, event_id: &str) -> Vec<Activity> {
        self.with(|s| {
            s.activities
                .iter()
                .filter(|a| calsync::crm::pipedrive::has_marker(a.text("note"), event_id))
                .cloned()
                .collect()
        })
    }

    /// Adds a user (who can own activities); returns its id.
    pub fn add_user(&self, email: &str) -> i64 {
        self.with(|s| {
            let id = s.new_id();
            s.users.push((id, email.to_owned()));
            id
        })
    }

    /// Adds a person; returns its id.
    pub fn add_person(&self, name: &str, email: &str) -> i64 {
        self.with(|s| s.add_person(name, email))
    }

    /// Deletes a person as a user would in Pipedrive (or a merge would).
    pub fn remove_person(&self, id: i64) {
        self.with(|s| s.persons.retain(|p| p.id != id));
    }

    /// Every person.
    pub fn persons(&self) -> Vec<Person> {
        self.with(|s| s.persons.clone())
    }

    /// Deletes an activity as a user would in Pipedrive.
    pub fn delete_activity(&self, id: i64) {
        self.with(|s| {
            if let Some(activity) = s.activities.iter_mut().find(|a| a.id == id) {
                activity.deleted = true;
            }
        });
    }

    /// The next requests hit the burst window: 429 with `x-ratelimit-reset` = `reset` seconds.
    pub fn throttle(&self, resets: impl IntoIterator<Item = u64>) {
        self.with(|s| s.bursts.extend(resets));
    }

    /// Sets the tokens left in today's budget.
    pub fn set_budget(&self, tokens: i64) {
        self.with(|s| s.budget = tokens);
    }

    /// The tokens left in today's budget.
    pub fn budget(&self) -> i64 {
        self.with(|s| s.budget)
    }

    /// The token stops working (401) until [`FakePipedrive::renew_token`].
    pub fn expire_token(&self) {
        self.with(|s| s.token_expired = true);
    }

    /// The token works again.
    pub fn renew_token(&self) {
        self.with(|s| s.token_expired = false);
    }

    /// The next activity create is carried out, but its answer is lost (502 from a proxy).
    pub fn lose_next_create(&self) {
        self.with(|s| s.lose_next_create = true);
    }
}

impl State {
    fn new_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn add_person(&mut self, name: &str, email: &str) -> i64 {
        let id = self.new_id();
        self.persons.push(Person {
            id,
            name: name.to_owned(),
            emails: vec![email.to_owned()],
        });
        id
    }
}

impl Recorded for FakePipedrive {
    fn with_ledger<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        self.with(|state| f(&mut state.ledger))
    }
}
