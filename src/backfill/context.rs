//! What a backfill run's grant tasks share ([`Context`]) and why a calendar's reading stopped
//! ([`Stop`]); used by the run (grants, calendars) and by each page's jobs.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::args::BackfillOptions;
use super::checkpoint::run_prefix;
use super::inline::Inline;
use super::progress::Progress;
use crate::clock::Clock;
use crate::store::Store;
use crate::sweep::listing::Lister;

/// Everything the grant tasks share.
pub(super) struct Context {
    pub options: BackfillOptions,
    pub run_prefix: String,
    pub lister: Lister,
    pub inline: Inline,
    pub store: Arc<dyn Store>,
    pub progress: Progress,
    pub clock: Clock,
    pub stop: CancellationToken,
}

/// Why a calendar stopped.
pub(super) enum Stop {
    /// Only this calendar failed.
    Calendar(String),
    /// The whole grant must stop.
    Grant(String),
    Interrupted,
}

impl From<crate::store::StoreError> for Stop {
    fn from(error: crate::store::StoreError) -> Self {
        Stop::Grant(crate::cause::chain(&error))
    }
}

impl Context {
    /// Builds the context of a run.
    pub fn new(
        options: BackfillOptions,
        lister: Lister,
        inline: Inline,
        progress: Progress,
    ) -> Context {
        Context {
            run_prefix: run_prefix(&options),
            store: inline.store.clone(),
            clock: inline.clock,
            stop: inline.stop.clone(),
            options,
            lister,
            inline,
            progress,
        }
    }
}
