//! Recurring series in the store ([`SeriesStore`]): per grant and series master, the
//! occurrences calsync has seen and how far the last complete listing of them reached.
//!
//! Invariants every backend keeps (the conformance suite checks each):
//! - One row per (grant, master) and per (grant, master, occurrence); adding an occurrence seen
//!   again updates its start.
//! - [`SeriesStore::record_expansion`] and [`SeriesStore::mark_series_deleted`] are one
//!   transaction each: the series' state and the occurrences it forgets change together.
//! - A series' `deleted_at` says that the master was deleted; it says nothing about the master's
//!   own CRM record (an earlier calsync wrote one), which is sync state like any record.
//!
//! The SQL and the trait's implementation are written once (`sql`, `exec`) for both
//! backends, which accept it as written; a backend only says where reads and writes go and how
//! writes are guarded (`portable::Engine`).

use async_trait::async_trait;
use jiff::Timestamp;

use super::StoreError;
use super::portable::Engine;
use crate::ids::{EventId, GrantId};

/// Names one series: the grant whose calendar holds it and its master's event id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// The grant whose calendar holds the series.
    pub grant_id: GrantId,
    /// The event id of the series master.
    pub master_event_id: EventId,
}

impl SeriesKey {
    /// The series of `master_event_id` in `grant_id`'s calendars.
    pub fn new(grant_id: impl Into<GrantId>, master_event_id: impl Into<EventId>) -> Self {
        SeriesKey {
            grant_id: grant_id.into(),
            master_event_id: master_event_id.into(),
        }
    }
}

/// An occurrence of a series, as seen in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The occurrence's event id (its record key).
    pub event_id: EventId,
    /// Its start, Unix seconds, when known.
    pub starts_at: Option<i64>,
}

/// What the store knows of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRecord {
    /// Which series.
    pub key: SeriesKey,
    /// The calendar holding the series, when known.
    pub calendar_id: Option<String>,
    /// The end (Unix seconds) of the window of the last complete listing of its occurrences.
    pub expanded_through: Option<i64>,
    /// When that listing completed.
    pub expanded_at: Option<Timestamp>,
    /// When its master was found deleted (`None`: live, or never seen deleted).
    pub deleted_at: Option<Timestamp>,
}

/// The store's series operations. See the module docs for the invariants.
#[async_trait]
pub trait SeriesStore: Send + Sync {
    /// The series, if calsync has seen it.
    async fn load_series(&self, key: &SeriesKey) -> Result<Option<SeriesRecord>, StoreError>;

    /// The occurrences seen of the series, by event id.
    async fn series_occurrences(&self, key: &SeriesKey) -> Result<Vec<Occurrence>, StoreError>;

    /// Remembers occurrences of the series (creating the series if new; a known calendar is
    /// kept).
    async fn add_occurrences(
        &self,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        occurrences: &[Occurrence],
    ) -> Result<(), StoreError>;

    /// Records a complete listing of the series through `through`, at `now`: the series is live,
    /// and the occurrences `gone` (no longer listed) are forgotten.
    async fn record_expansion(
        &self,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        through: i64,
        gone: &[EventId],
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Records that the master was deleted at `now` and forgets every occurrence.
    async fn mark_series_deleted(&self, key: &SeriesKey, now: Timestamp) -> Result<(), StoreError>;

    /// Up to `limit` live series of the grant whose last complete listing did not reach
    /// `through` (or that were never listed completely), by master id.
    async fn series_to_refresh(
        &self,
        grant_id: &GrantId,
        through: i64,
        limit: usize,
    ) -> Result<Vec<SeriesRecord>, StoreError>;
}

#[async_trait]
impl<E: Engine> SeriesStore for E {
    async fn load_series(&self, key: &SeriesKey) -> Result<Option<SeriesRecord>, StoreError> {
        exec::load(self.reads(), key, E::classify).await
    }

    async fn series_occurrences(&self, key: &SeriesKey) -> Result<Vec<Occurrence>, StoreError> {
        exec::occurrences(self.reads(), key, E::classify).await
    }

    async fn add_occurrences(
        &self,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        occurrences: &[Occurrence],
    ) -> Result<(), StoreError> {
        let write = exec::add(self.writes(), key, calendar_id, occurrences, E::classify);
        self.guarded(write).await
    }

    async fn record_expansion(
        &self,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        through: i64,
        gone: &[EventId],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let pool = self.writes();
        let write = exec::expanded(pool, key, calendar_id, through, gone, now, E::classify);
        self.guarded(write).await
    }

    async fn mark_series_deleted(&self, key: &SeriesKey, now: Timestamp) -> Result<(), StoreError> {
        self.guarded(exec::deleted(self.writes(), key, now, E::classify))
            .await
    }

    async fn series_to_refresh(
        &self,
        grant_id: &GrantId,
        through: i64,
        limit: usize,
    ) -> Result<Vec<SeriesRecord>, StoreError> {
        exec::to_refresh(self.reads(), grant_id, through, limit, E::classify).await
    }
}

/// The statements, in SQL both backends accept.
pub(in crate::store) mod sql {
    /// The series row of (`$1` grant, `$2` master).
    pub const LOAD: &str = "\
SELECT grant_id, master_event_id, calendar_id, expanded_through, expanded_at, deleted_at
FROM series WHERE grant_id = $1 AND master_event_id = $2";

    /// The occurrences of (`$1`, `$2`).
    pub const OCCURRENCES: &str = "\
SELECT event_id, starts_at FROM series_occurrences
WHERE grant_id = $1 AND master_event_id = $2 ORDER BY event_id";

    /// Creates the series (`$1`, `$2`, `$3` calendar) if new; keeps a known calendar.
    pub const TOUCH: &str = "\
INSERT INTO series (grant_id, master_event_id, calendar_id) VALUES ($1, $2, $3)
ON CONFLICT (grant_id, master_event_id) DO UPDATE SET
    calendar_id = COALESCE(series.calendar_id, excluded.calendar_id)";

    /// Remembers occurrence `$3` (start `$4`) of (`$1`, `$2`).
    pub const ADD_OCCURRENCE: &str = "\
INSERT INTO series_occurrences (grant_id, master_event_id, event_id, starts_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (grant_id, master_event_id, event_id) DO UPDATE SET starts_at = excluded.starts_at";

    /// Forgets occurrence `$3` of (`$1`, `$2`).
    pub const FORGET_OCCURRENCE: &str = "\
DELETE FROM series_occurrences WHERE grant_id = $1 AND master_event_id = $2 AND event_id = $3";

    /// Forgets every occurrence of (`$1`, `$2`).
    pub const FORGET_ALL: &str =
        "DELETE FROM series_occurrences WHERE grant_id = $1 AND master_event_id = $2";

    /// A complete listing of (`$1`, `$2`) in calendar `$3` through `$4` at `$5` (ms).
    pub const EXPANDED: &str = "\
INSERT INTO series (grant_id, master_event_id, calendar_id, expanded_through, expanded_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (grant_id, master_event_id) DO UPDATE SET
    calendar_id = COALESCE(excluded.calendar_id, series.calendar_id),
    expanded_through = excluded.expanded_through,
    expanded_at = excluded.expanded_at,
    deleted_at = NULL";

    /// (`$1`, `$2`)'s master deleted at `$3` (ms).
    pub const DELETED: &str = "\
INSERT INTO series (grant_id, master_event_id, deleted_at) VALUES ($1, $2, $3)
ON CONFLICT (grant_id, master_event_id) DO UPDATE SET deleted_at = excluded.deleted_at";

    /// Live series of grant `$1` not listed through `$2`, at most `$3`.
    pub const TO_REFRESH: &str = "\
SELECT grant_id, master_event_id, calendar_id, expanded_through, expanded_at, deleted_at
FROM series
WHERE grant_id = $1 AND deleted_at IS NULL
  AND (expanded_through IS NULL OR expanded_through < $2)
ORDER BY master_event_id LIMIT $3";
}

/// The generic execution of [`sql`] over a pool of either backend.
pub(in crate::store) mod exec {
    use jiff::Timestamp;

    use super::super::codec::{get, millis, opt_timestamp};
    use super::{Occurrence, SeriesKey, SeriesRecord, sql};
    use crate::ids::{EventId, GrantId};
    use crate::store::StoreError;
    use crate::store::portable::{Cells, Classify, Param, Portable};

    /// A series row, decoded.
    fn record_from_row(row: &impl Cells) -> Result<SeriesRecord, StoreError> {
        Ok(SeriesRecord {
            key: SeriesKey {
                grant_id: get(row, "grant_id")?,
                master_event_id: get(row, "master_event_id")?,
            },
            calendar_id: get(row, "calendar_id")?,
            expanded_through: get(row, "expanded_through")?,
            expanded_at: opt_timestamp(get(row, "expanded_at")?)?,
            deleted_at: opt_timestamp(get(row, "deleted_at")?)?,
        })
    }

    /// The series' key as the first two parameters.
    fn key_params(key: &SeriesKey) -> [Param<'_>; 2] {
        [(&key.grant_id).into(), (&key.master_event_id).into()]
    }

    /// [`super::SeriesStore::load_series`].
    pub async fn load<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        key: &SeriesKey,
        classify: Classify,
    ) -> Result<Option<SeriesRecord>, StoreError> {
        let mut conn = pool.acquire().await.map_err(classify)?;
        let row = DB::fetch_optional(&mut conn, sql::LOAD, &key_params(key))
            .await
            .map_err(classify)?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// [`super::SeriesStore::series_occurrences`].
    pub async fn occurrences<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        key: &SeriesKey,
        classify: Classify,
    ) -> Result<Vec<Occurrence>, StoreError> {
        let mut conn = pool.acquire().await.map_err(classify)?;
        let rows = DB::fetch_all(&mut conn, sql::OCCURRENCES, &key_params(key))
            .await
            .map_err(classify)?;
        rows.iter()
            .map(|row| {
                Ok(Occurrence {
                    event_id: get(row, "event_id")?,
                    starts_at: get(row, "starts_at")?,
                })
            })
            .collect()
    }

    /// [`super::SeriesStore::add_occurrences`], in one transaction.
    pub async fn add<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        occurrences: &[Occurrence],
        classify: Classify,
    ) -> Result<(), StoreError> {
        let [grant, master] = key_params(key);
        let mut tx = pool.begin().await.map_err(classify)?;
        DB::execute(&mut tx, sql::TOUCH, &[grant, master, calendar_id.into()])
            .await
            .map_err(classify)?;
        for occurrence in occurrences {
            let values = [
                grant,
                master,
                (&occurrence.event_id).into(),
                occurrence.starts_at.into(),
            ];
            DB::execute(&mut tx, sql::ADD_OCCURRENCE, &values)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    /// [`super::SeriesStore::record_expansion`], in one transaction.
    pub async fn expanded<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        through: i64,
        gone: &[EventId],
        now: Timestamp,
        classify: Classify,
    ) -> Result<(), StoreError> {
        let [grant, master] = key_params(key);
        let mut tx = pool.begin().await.map_err(classify)?;
        let values = [
            grant,
            master,
            calendar_id.into(),
            through.into(),
            millis(now).into(),
        ];
        DB::execute(&mut tx, sql::EXPANDED, &values)
            .await
            .map_err(classify)?;
        for event_id in gone {
            DB::execute(
                &mut tx,
                sql::FORGET_OCCURRENCE,
                &[grant, master, event_id.into()],
            )
            .await
            .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    /// [`super::SeriesStore::mark_series_deleted`], in one transaction.
    pub async fn deleted<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        key: &SeriesKey,
        now: Timestamp,
        classify: Classify,
    ) -> Result<(), StoreError> {
        let [grant, master] = key_params(key);
        let mut tx = pool.begin().await.map_err(classify)?;
        DB::execute(&mut tx, sql::DELETED, &[grant, master, millis(now).into()])
            .await
            .map_err(classify)?;
        DB::execute(&mut tx, sql::FORGET_ALL, &[grant, master])
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)
    }

    /// [`super::SeriesStore::series_to_refresh`].
    pub async fn to_refresh<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        grant_id: &GrantId,
        through: i64,
        limit: usize,
        classify: Classify,
    ) -> Result<Vec<SeriesRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let values = [Param::from(grant_id), through.into(), limit.into()];
        let mut conn = pool.acquire().await.map_err(classify)?;
        let rows = DB::fetch_all(&mut conn, sql::TO_REFRESH, &values)
            .await
            .map_err(classify)?;
        rows.iter().map(record_from_row).collect()
    }
}
