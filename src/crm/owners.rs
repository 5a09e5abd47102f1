//! Meeting ownership, the part every vendor shares: the owner's email (chosen by the policy,
//! `crm.owner`) mapped to the CRM user, cached, with `crm.default_owner` for emails that have
//! no CRM user.
//!
//! Invariants: a lookup result — found or not — is reused for [`OWNER_TTL`], and concurrent
//! lookups of one email share one request, so a burst of 1,000 meetings by one rep costs one
//! lookup; an email with no CRM user is never a failure: the owner is left unset (or set to
//! `crm.default_owner`) and `calsync_owner_unmapped_total` counts the meeting; a failed lookup
//! is not cached.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::CrmError;
use super::contacts::ContactCache;
use crate::telemetry::metrics::Metrics;

/// How long an email → CRM user answer is reused.
pub const OWNER_TTL: Duration = Duration::from_secs(60 * 60);

/// What the adapter writes as the meeting's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// `crm.owner = "none"`: the owner field is not written.
    Untouched,
    /// This CRM user.
    User(String),
    /// The owner's email has no CRM user and no default is configured.
    Unmapped,
}

/// Email → CRM user id, cached; one per adapter.
#[derive(Clone)]
pub struct OwnerDirectory {
    users: ContactCache,
    default_owner: Option<String>,
    metrics: Arc<Metrics>,
}

impl OwnerDirectory {
    /// A directory falling back to `default_owner`, counting unmapped owners in `metrics`.
    pub fn new(default_owner: Option<String>, metrics: Arc<Metrics>) -> Self {
        OwnerDirectory {
            users: ContactCache::new(OWNER_TTL),
            default_owner: default_owner.filter(|owner| !owner.trim().is_empty()),
            metrics,
        }
    }

    /// The owner of a meeting whose owner's email is `email` (`None`: `crm.owner = "none"`),
    /// looked up with `lookup` when not cached.
    pub async fn owner<F, Fut>(&self, email: Option<&str>, lookup: F) -> Result<Owner, CrmError>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<Option<String>, CrmError>>,
    {
        let Some(email) = email else {
            return Ok(Owner::Untouched);
        };
        let found = self
            .users
            .get_or_lookup(email, lookup)
            .await
            .map_err(CrmError::Shared)?;
        if let Some(user) = found {
            return Ok(Owner::User(user));
        }
        self.metrics.owner_unmapped();
        tracing::debug!(
            "The meeting's owner has no CRM user; the owner is left unset or set to crm.default_owner."
        );
        Ok(match &self.default_owner {
            Some(user) => Owner::User(user.clone()),
            None => Owner::Unmapped,
        })
    }
}
