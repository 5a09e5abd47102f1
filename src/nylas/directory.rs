//! The grant directory: whose calendar each connected grant is (its email address), read from
//! Nylas once and remembered, so the write path can ask on every job — which copy of a meeting
//! is the organizer's, which domains are the company's own, who owns a meeting — without a
//! request each time.
//!
//! Invariants: at most one `GET /v3/grants/{id}` per grant per [`GrantDirectory::ttl`], however
//! many jobs ask at once (concurrent lookups of one grant share one request); a failed lookup is
//! not remembered (the next caller asks again); emails are trimmed and lowercased; a grant Nylas
//! does not know (404) is remembered as having no email.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::{NylasClient, NylasError};

/// How long a grant's email is remembered: a grant's address practically never changes.
pub const DEFAULT_TTL: Duration = Duration::from_secs(6 * 3600);
/// The most grants remembered at once.
const CAPACITY: u64 = 100_000;

/// Grant id → the grant's email address, cached. Cheap to clone (shared cache).
#[derive(Clone)]
pub struct GrantDirectory {
    nylas: NylasClient,
    emails: Cache<String, Option<String>>,
    ttl: Duration,
}

impl GrantDirectory {
    /// A directory reading grants through `nylas`, remembering each for `ttl`.
    pub fn new(nylas: NylasClient, ttl: Duration) -> Self {
        GrantDirectory {
            nylas,
            emails: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            ttl,
        }
    }

    /// How long an answer is remembered.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The grant's email address (trimmed, lowercased); `None` when Nylas gives none or does not
    /// know the grant.
    pub async fn email(&self, grant_id: &str) -> Result<Option<String>, Arc<NylasError>> {
        let nylas = self.nylas.clone();
        let id = grant_id.to_owned();
        self.emails
            .try_get_with(grant_id.to_owned(), async move {
                let grant = nylas.get_grant(&id).await?;
                Ok(grant
                    .and_then(|grant| grant.email)
                    .map(|email| email.trim().to_lowercase())
                    .filter(|email| !email.is_empty()))
            })
            .await
    }

    /// Remembers a grant's email learnt elsewhere (e.g. from a grants listing), saving a lookup.
    pub async fn remember(&self, grant_id: &str, email: Option<&str>) {
        let email = email
            .map(|email| email.trim().to_lowercase())
            .filter(|email| !email.is_empty());
        self.emails.insert(grant_id.to_owned(), email).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nylas::client::fake::{Canned, FakeNylas};
    use serde_json::json;

    #[tokio::test]
    async fn a_burst_of_lookups_costs_one_request_and_failures_are_not_remembered() {
        let fake = FakeNylas::start().await;
        fake.then(Canned::json(500, json!({"error": {"type": "api_error"}})));
        fake.then(Canned::json(
            200,
            json!({"request_id": "r", "data": {"id": "g1", "email": " Rep@Seller.COM ", "grant_status": "valid"}}),
        ));
        fake.then(Canned::json(
            404,
            json!({"error": {"type": "not_found_error"}}),
        ));
        let directory = GrantDirectory::new(fake.client(), DEFAULT_TTL);

        assert!(directory.email("g1").await.is_err());
        let lookups = (0..8).map(|_| directory.email("g1"));
        for answer in futures::future::join_all(lookups).await {
            assert_eq!(answer.unwrap().as_deref(), Some("rep@seller.com"));
        }
        assert_eq!(directory.email("gone").await.unwrap(), None);
        assert_eq!(directory.email("gone").await.unwrap(), None);
        directory.remember("g2", Some("Boss@Seller.com")).await;
        assert_eq!(
            directory.email("g2").await.unwrap().as_deref(),
            Some("boss@seller.com")
        );

        let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
        assert_eq!(paths, ["/v3/grants/g1", "/v3/grants/g1", "/v3/grants/gone"]);
    }
}
