//! Reconciliation watermarks, kept in the store's cursors (shared by replicas and restarts).
//!
//! - `reconcile/watermark/<grant>/<calendar>`: Unix seconds; the calendar was listed completely
//!   with every change up to then (minus clock skew, which the safety margin absorbs). It only
//!   moves forward, and only after a whole calendar was listed successfully.
//! - `reconcile/floor/<grant>/`: Unix seconds; set while a grant is paused or not valid, to the
//!   time its trouble was first seen (the pause time when calsync paused it). A calendar of that
//!   grant is re-read from no later than the floor, even one that never had a watermark; the
//!   floor is removed once every calendar of the grant was reconciled again.
//!
//! Invariants: names are unambiguous (ids are escaped as backfill checkpoints are); a value that
//! cannot be read is treated as absent, with a warning.

use jiff::Timestamp;

use super::name_component;
use crate::store::{Coordination, StoreError};

/// The watermark name of a calendar.
pub fn watermark_key(grant_id: &str, calendar_id: &str) -> String {
    format!(
        "reconcile/watermark/{}/{}",
        name_component(grant_id),
        name_component(calendar_id)
    )
}

/// The floor name of a grant. It ends with `/`, so deleting it by prefix deletes nothing else.
pub fn floor_key(grant_id: &str) -> String {
    format!("reconcile/floor/{}/", name_component(grant_id))
}

/// Reads a time cursor (Unix seconds).
pub async fn read(store: &dyn Coordination, name: &str) -> Result<Option<i64>, StoreError> {
    let Some(value) = store.get_cursor(name).await? else {
        return Ok(None);
    };
    match value.trim().parse::<i64>() {
        Ok(seconds) => Ok(Some(seconds)),
        Err(_) => {
            tracing::warn!(cursor = %name, value = %value, "A reconciliation cursor holds no time; ignoring it.");
            Ok(None)
        }
    }
}

/// Writes a time cursor (Unix seconds).
pub async fn write(
    store: &dyn Coordination,
    name: &str,
    seconds: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    store.put_cursor(name, &seconds.to_string(), now).await
}

/// Gives a calendar without a watermark the watermark `seconds` (a backfill that listed the
/// whole calendar from then); true when it was set. An existing watermark is left alone.
pub async fn seed(
    store: &dyn Coordination,
    grant_id: &str,
    calendar_id: &str,
    seconds: i64,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let name = watermark_key(grant_id, calendar_id);
    if read(store, &name).await?.is_some() {
        return Ok(false);
    }
    write(store, &name, seconds, now).await?;
    Ok(true)
}
