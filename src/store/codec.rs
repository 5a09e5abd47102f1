//! How every backend encodes domain values in columns, and decodes them back. Shared by the
//! SQLite and PostgreSQL backends, whose schemas use the same representations.
//!
//! Invariants: timestamps are 64-bit integer Unix milliseconds, booleans the backend's boolean
//! (SQLite INTEGER 0/1, PostgreSQL BOOLEAN), counts and versions 64-bit integers, enums short
//! lowercase text, payloads JSON text. Decoding never guesses: a value this module did not write
//! (an unknown enum text, an out-of-range timestamp, bad JSON, a column of another type) is
//! [`StoreError::Corrupt`].

use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use crate::ids::{CrmRecordId, EventId, GrantId, MeetingKey, NotificationId, TargetId};
use crate::store::portable::{Cells, Param};
use crate::store::{
    DeadLetter, GrantStatus, JobAction, JobRequest, JobSource, PayloadOrigin, PayloadText,
    StoreError, SyncState,
};

/// A timestamp as stored.
pub(in crate::store) fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

/// `at + duration` as stored, saturating at the end of representable time.
pub(in crate::store) fn millis_after(at: Timestamp, duration: Duration) -> i64 {
    millis(crate::clock::add(at, duration))
}

/// A stored timestamp.
pub(in crate::store) fn timestamp(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms)
        .map_err(|error| StoreError::Corrupt(format!("timestamp {ms} ms is out of range: {error}")))
}

/// A stored optional timestamp.
pub(in crate::store) fn opt_timestamp(ms: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    ms.map(timestamp).transpose()
}

/// A column value of a type the schemas store, read from [`Cells`].
pub(in crate::store) trait FromCell: Sized {
    /// Reads `column`; `None` when it is NULL.
    fn read(row: &(impl Cells + ?Sized), column: &str) -> Result<Option<Self>, sqlx::Error>;
}

impl FromCell for String {
    fn read(row: &(impl Cells + ?Sized), column: &str) -> Result<Option<Self>, sqlx::Error> {
        row.text(column)
    }
}

impl FromCell for i64 {
    fn read(row: &(impl Cells + ?Sized), column: &str) -> Result<Option<Self>, sqlx::Error> {
        row.int(column)
    }
}

impl FromCell for bool {
    fn read(row: &(impl Cells + ?Sized), column: &str) -> Result<Option<Self>, sqlx::Error> {
        row.flag(column)
    }
}

impl FromCell for Vec<u8> {
    fn read(row: &(impl Cells + ?Sized), column: &str) -> Result<Option<Self>, sqlx::Error> {
        row.bytes(column)
    }
}

/// Stores the ids of [`crate::ids`] as text: the one place an id becomes a parameter
/// ([`Param::Text`]) and a column becomes an id.
macro_rules! id_columns {
    ($($id:ty),*) => {$(
        impl FromCell for $id {
            fn read(row: &(impl Cells + ?Sized), column: &str) -> Result<Option<Self>, sqlx::Error> {
                Ok(row.text(column)?.map(<$id>::from))
            }
        }

        impl<'a> From<&'a $id> for Param<'a> {
            fn from(value: &'a $id) -> Self {
                Param::Text(Some(value.as_str()))
            }
        }

        impl<'a> From<Option<&'a $id>> for Param<'a> {
            fn from(value: Option<&'a $id>) -> Self {
                Param::Text(value.map(<$id>::as_str))
            }
        }
    )*};
}

id_columns!(
    EventId,
    GrantId,
    NotificationId,
    CrmRecordId,
    TargetId,
    MeetingKey
);

/// A column that may be NULL.
pub(in crate::store) trait Column: Sized {
    /// Reads `column`, naming it when the stored value does not decode.
    fn column(row: &(impl Cells + ?Sized), column: &str) -> Result<Self, StoreError>;
}

impl<T: FromCell> Column for Option<T> {
    fn column(row: &(impl Cells + ?Sized), column: &str) -> Result<Self, StoreError> {
        T::read(row, column)
            .map_err(|error| StoreError::Corrupt(format!("column `{column}`: {error}")))
    }
}

impl<T: FromCell> Column for T {
    fn column(row: &(impl Cells + ?Sized), column: &str) -> Result<Self, StoreError> {
        Option::<T>::column(row, column)?
            .ok_or_else(|| StoreError::Corrupt(format!("column `{column}` is NULL")))
    }
}

/// Reads a column, naming it when the stored value does not decode.
pub(in crate::store) fn get<T: Column>(
    row: &(impl Cells + ?Sized),
    column: &str,
) -> Result<T, StoreError> {
    T::column(row, column)
}

/// Reads a non-negative 64-bit integer column as a count.
pub(in crate::store) fn get_count(
    row: &(impl Cells + ?Sized),
    column: &str,
) -> Result<u32, StoreError> {
    let value: i64 = get(row, column)?;
    u32::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("column `{column}` holds {value}, not a count")))
}

pub(in crate::store) fn action_text(action: JobAction) -> &'static str {
    match action {
        JobAction::Upsert => "upsert",
        JobAction::Delete => "delete",
    }
}

fn action_from(text: &str) -> Result<JobAction, StoreError> {
    match text {
        "upsert" => Ok(JobAction::Upsert),
        "delete" => Ok(JobAction::Delete),
        other => Err(unknown("action", other)),
    }
}

pub(in crate::store) fn origin_text(origin: PayloadOrigin) -> &'static str {
    match origin {
        PayloadOrigin::None => "none",
        PayloadOrigin::NotificationComplete => "notification_complete",
        PayloadOrigin::NotificationPartial => "notification_partial",
        PayloadOrigin::EventsApi => "events_api",
    }
}

fn origin_from(text: &str) -> Result<PayloadOrigin, StoreError> {
    match text {
        "none" => Ok(PayloadOrigin::None),
        "notification_complete" => Ok(PayloadOrigin::NotificationComplete),
        "notification_partial" => Ok(PayloadOrigin::NotificationPartial),
        "events_api" => Ok(PayloadOrigin::EventsApi),
        other => Err(unknown("origin", other)),
    }
}

pub(in crate::store) fn source_text(source: JobSource) -> &'static str {
    match source {
        JobSource::Webhook => "webhook",
        JobSource::Backfill => "backfill",
        JobSource::Reconcile => "reconcile",
        JobSource::Replay => "replay",
        JobSource::DeadLetterRetry => "dead_letter_retry",
    }
}

fn source_from(text: &str) -> Result<JobSource, StoreError> {
    match text {
        "webhook" => Ok(JobSource::Webhook),
        "backfill" => Ok(JobSource::Backfill),
        "reconcile" => Ok(JobSource::Reconcile),
        "replay" => Ok(JobSource::Replay),
        "dead_letter_retry" => Ok(JobSource::DeadLetterRetry),
        other => Err(unknown("source", other)),
    }
}

fn unknown(column: &str, text: &str) -> StoreError {
    StoreError::Corrupt(format!("column `{column}` holds unknown value {text:?}"))
}

/// A JSON value as stored (text).
pub(in crate::store) fn json_text(value: Option<&Value>) -> Option<String> {
    value.map(Value::to_string)
}

/// A job's payload as stored (its JSON text, as is).
pub(in crate::store) fn payload_text(payload: Option<&PayloadText>) -> Option<&str> {
    payload.map(PayloadText::as_str)
}

fn payload_from(text: Option<String>) -> Result<Option<PayloadText>, StoreError> {
    text.map(|text| {
        PayloadText::from_text(text)
            .map_err(|error| StoreError::Corrupt(format!("column `payload` is not JSON: {error}")))
    })
    .transpose()
}

/// The job request columns shared by `jobs` and `dead_letters`, decoded.
pub(in crate::store) fn request_from_row(
    row: &(impl Cells + ?Sized),
) -> Result<JobRequest, StoreError> {
    Ok(JobRequest {
        record_key: get(row, "record_key")?,
        grant_id: get(row, "grant_id")?,
        calendar_id: get(row, "calendar_id")?,
        action: action_from(&get::<String>(row, "action")?)?,
        payload: payload_from(get(row, "payload")?)?,
        origin: origin_from(&get::<String>(row, "origin")?)?,
        version: get(row, "version")?,
        force_fetch: get(row, "force_fetch")?,
        source: source_from(&get::<String>(row, "source")?)?,
        notification_id: get(row, "notification_id")?,
    })
}

/// A `sync_state` row, decoded.
pub(in crate::store) fn state_from_row(
    row: &(impl Cells + ?Sized),
) -> Result<SyncState, StoreError> {
    Ok(SyncState {
        target: get(row, "target")?,
        record_key: get(row, "record_key")?,
        crm_record_id: get(row, "crm_record_id")?,
        version: get(row, "version")?,
        content_hash: get(row, "content_hash")?,
        tombstone: get(row, "tombstone")?,
        create_pending: get(row, "create_pending")?,
        grant_id: get(row, "grant_id")?,
        calendar_id: get(row, "calendar_id")?,
        updated_at: opt_timestamp(get(row, "updated_at")?)?,
    })
}

/// A `dead_letters` row, decoded.
pub(in crate::store) fn dead_letter_from_row(
    row: &(impl Cells + ?Sized),
) -> Result<DeadLetter, StoreError> {
    Ok(DeadLetter {
        id: get(row, "id")?,
        request: request_from_row(row)?,
        attempts: get_count(row, "attempts")?,
        last_error: get(row, "last_error")?,
        enqueued_at: timestamp(get(row, "enqueued_at")?)?,
        dead_at: timestamp(get(row, "dead_at")?)?,
    })
}

/// A grant's status from its `grants` row (`Active` when there is none).
pub(in crate::store) fn grant_status_from_row<R: Cells>(
    grant_id: &GrantId,
    row: Option<&R>,
) -> Result<GrantStatus, StoreError> {
    let Some(row) = row else {
        return Ok(GrantStatus::Active);
    };
    let since = timestamp(get(row, "since")?)?;
    match get::<String>(row, "status")?.as_str() {
        "active" => Ok(GrantStatus::Active),
        "paused" => Ok(GrantStatus::Paused { since }),
        "deleted" => Ok(GrantStatus::Deleted { at: since }),
        other => Err(StoreError::Corrupt(format!(
            "column `status` of grant {grant_id} holds unknown value {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_texts_round_trip() {
        for action in [JobAction::Upsert, JobAction::Delete] {
            assert_eq!(action_from(action_text(action)).unwrap(), action);
        }
        for origin in [
            PayloadOrigin::None,
            PayloadOrigin::NotificationComplete,
            PayloadOrigin::NotificationPartial,
            PayloadOrigin::EventsApi,
        ] {
            assert_eq!(origin_from(origin_text(origin)).unwrap(), origin);
        }
        for source in [
            JobSource::Webhook,
            JobSource::Backfill,
            JobSource::Reconcile,
            JobSource::Replay,
            JobSource::DeadLetterRetry,
        ] {
            assert_eq!(source_from(source_text(source)).unwrap(), source);
        }
    }

    #[test]
    fn unknown_texts_and_bad_values_are_corrupt() {
        assert!(matches!(action_from("merge"), Err(StoreError::Corrupt(_))));
        assert!(matches!(origin_from(""), Err(StoreError::Corrupt(_))));
        assert!(matches!(source_from("cron"), Err(StoreError::Corrupt(_))));
        assert!(matches!(timestamp(i64::MAX), Err(StoreError::Corrupt(_))));
        assert!(matches!(
            payload_from(Some("{not json".into())),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn timestamps_round_trip_at_millisecond_precision() {
        let at = Timestamp::from_millisecond(1_780_000_000_123).unwrap();
        assert_eq!(timestamp(millis(at)).unwrap(), at);
        assert_eq!(millis_after(at, Duration::from_secs(30)), 1_780_000_030_123);
        assert_eq!(
            millis_after(Timestamp::MAX, Duration::from_secs(1)),
            millis(Timestamp::MAX)
        );
    }
}
