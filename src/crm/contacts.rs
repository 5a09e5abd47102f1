//! Contact linking, the part every vendor shares: which attendees are customers, and a short
//! cache of "which CRM contact has this email".
//!
//! Invariants: emails are compared trimmed and lowercased; the organizer and attendees at the
//! internal domains (`sync.internal_domains`, subdomains included) are never linked; a lookup
//! result — found or not found — is cached for [`LOOKUP_TTL`], so a burst of meetings with the
//! same prospect costs one lookup, and a contact created in the CRM meanwhile is found within
//! minutes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::record::MeetingRecord;

/// How long a lookup result is reused.
pub const LOOKUP_TTL: Duration = Duration::from_secs(5 * 60);

/// The most emails the cache remembers.
const CACHE_CAPACITY: u64 = 10_000;

/// The attendees to link: trimmed, lowercased, deduplicated, in the record's order, without the
/// organizer and without internal domains.
pub fn external_attendees(record: &MeetingRecord, internal_domains: &[String]) -> Vec<String> {
    let organizer = record
        .organizer_email
        .as_deref()
        .map(normalize)
        .unwrap_or_default();
    let mut emails: Vec<String> = Vec::new();
    for attendee in &record.attendees {
        let email = normalize(&attendee.email);
        if email.is_empty() || email == organizer || is_internal(&email, internal_domains) {
            continue;
        }
        if !emails.contains(&email) {
            emails.push(email);
        }
    }
    emails
}

/// Trimmed and lowercased.
pub fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

/// True when the email's domain is one of `domains` or a subdomain of one.
pub fn is_internal(email: &str, domains: &[String]) -> bool {
    let Some((_, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let domain = domain.trim().to_lowercase();
    domains.iter().any(|internal| {
        let internal = internal.trim().trim_start_matches('@').to_lowercase();
        domain == internal || domain.ends_with(&format!(".{internal}"))
    })
}

/// Email → CRM contact id (`None`: no such contact), remembered for [`LOOKUP_TTL`].
#[derive(Clone)]
pub struct ContactCache {
    entries: Cache<String, Option<String>>,
}

impl Default for ContactCache {
    fn default() -> Self {
        Self::new(LOOKUP_TTL)
    }
}

impl ContactCache {
    /// A cache whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        ContactCache {
            entries: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The contact id for `email`, from the cache or else from `lookup` (whose answer is then
    /// cached; errors are not). Concurrent lookups of one email share one call, and its error
    /// (shared, hence the `Arc`).
    pub async fn get_or_lookup<F, Fut, E>(
        &self,
        email: &str,
        lookup: F,
    ) -> Result<Option<String>, Arc<E>>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<Option<String>, E>>,
        E: Send + Sync + 'static,
    {
        let key = normalize(email);
        let init = lookup(key.clone());
        self.entries.try_get_with(key, init).await
    }

    /// Remembers a contact id (e.g. one just created).
    pub async fn remember(&self, email: &str, contact_id: Option<String>) {
        self.entries.insert(normalize(email), contact_id).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Attendee, MeetingStatus, RsvpStatus};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn record(organizer: &str, emails: &[&str]) -> MeetingRecord {
        MeetingRecord {
            event_id: "e".into(),
            grant_id: "g".into(),
            provider_calendar_id: None,
            meeting_subject: "s".into(),
            meeting_status: MeetingStatus::Confirmed,
            meeting_date: jiff::Timestamp::UNIX_EPOCH,
            meeting_end_date: jiff::Timestamp::UNIX_EPOCH,
            duration_minutes: 0,
            all_day: false,
            timezone: None,
            meeting_location: None,
            meeting_link: None,
            notes: None,
            organizer_email: Some(organizer.into()),
            attendees: emails
                .iter()
                .map(|email| Attendee {
                    email: (*email).into(),
                    name: None,
                    rsvp_status: RsvpStatus::Yes,
                })
                .collect(),
            is_recurring: false,
            master_event_id: None,
            series_label: None,
            ical_uid: None,
            source_updated_at: None,
            private: false,
            owner_email: None,
        }
    }

    #[test]
    fn organizer_and_internal_domains_are_not_linked() {
        let meeting = record(
            "rep@seller.com",
            &[
                " Buyer@Prospect.com",
                "rep@seller.com",
                "cto@eu.seller.com",
                "buyer@prospect.com",
                "other@sellers.com",
            ],
        );
        let internal = vec!["Seller.com".to_string()];
        assert_eq!(
            external_attendees(&meeting, &internal),
            vec!["buyer@prospect.com", "other@sellers.com"]
        );
        assert!(is_internal("a@seller.com", &internal));
        assert!(!is_internal("a@notseller.com", &internal));
        assert!(!is_internal("no-at-sign", &internal));
    }

    #[tokio::test]
    async fn a_burst_of_lookups_for_one_email_costs_one_call() {
        let cache = ContactCache::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let lookups = (0..8).map(|_| {
            let calls = calls.clone();
            let cache = cache.clone();
            async move {
                cache
                    .get_or_lookup("Buyer@Prospect.com ", |email| async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok::<_, std::io::Error>(Some(format!("contact-for-{email}")))
                    })
                    .await
            }
        });
        let results = futures::future::join_all(lookups).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        for result in results {
            assert_eq!(
                result.unwrap().as_deref(),
                Some("contact-for-buyer@prospect.com")
            );
        }
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache = ContactCache::default();
        let failed = cache
            .get_or_lookup("a@b.com", |_| async { Err::<Option<String>, _>("down") })
            .await;
        assert!(failed.is_err());
        let found = cache
            .get_or_lookup("a@b.com", |_| async { Ok::<_, &str>(None) })
            .await;
        assert_eq!(found.unwrap(), None);
    }
}
