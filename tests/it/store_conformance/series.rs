//! Recurring series: occurrences remembered per (grant, master), complete listings, deleted
//! masters, and the series a reconciliation pass re-expands.

use calsync::store::{Occurrence, SeriesKey, SeriesRecord, SeriesStore};

use super::{Backend, at};

fn occurrence(id: &str, starts_at: Option<i64>) -> Occurrence {
    Occurrence {
        event_id: id.into(),
        starts_at,
    }
}

pub async fn series_occurrences_are_remembered_per_grant_and_master(backend: Backend) {
    let series: &dyn SeriesStore = &*backend.store;
    let key = SeriesKey::new("grant-1", "master-1");
    assert_eq!(series.load_series(&key).await.unwrap(), None);
    assert!(series.series_occurrences(&key).await.unwrap().is_empty());

    series
        .add_occurrences(
            &key,
            Some("cal-1"),
            &[occurrence("o2", Some(200)), occurrence("o1", Some(100))],
        )
        .await
        .unwrap();
    // Seen again: its start is updated, a known calendar kept.
    series
        .add_occurrences(&key, Some("cal-other"), &[occurrence("o2", Some(250))])
        .await
        .unwrap();
    // Another grant's copy of the same master is another series.
    let other = SeriesKey::new("grant-2", "master-1");
    series
        .add_occurrences(&other, None, &[occurrence("o9", None)])
        .await
        .unwrap();

    assert_eq!(
        series.series_occurrences(&key).await.unwrap(),
        vec![occurrence("o1", Some(100)), occurrence("o2", Some(250))]
    );
    assert_eq!(
        series.series_occurrences(&other).await.unwrap(),
        vec![occurrence("o9", None)]
    );
    assert_eq!(
        series.load_series(&key).await.unwrap(),
        Some(SeriesRecord {
            key: key.clone(),
            calendar_id: Some("cal-1".into()),
            expanded_through: None,
            expanded_at: None,
            deleted_at: None,
        })
    );
}

pub async fn a_complete_listing_forgets_what_is_gone_and_revives_a_deleted_series(
    backend: Backend,
) {
    let series: &dyn SeriesStore = &*backend.store;
    let key = SeriesKey::new("grant-1", "master-1");
    series
        .add_occurrences(
            &key,
            Some("cal-1"),
            &[occurrence("o1", Some(100)), occurrence("o2", Some(200))],
        )
        .await
        .unwrap();
    series
        .record_expansion(&key, None, 9_000, &["o2".into()], at(10))
        .await
        .unwrap();
    assert_eq!(
        series.series_occurrences(&key).await.unwrap(),
        vec![occurrence("o1", Some(100))]
    );
    let expanded = series.load_series(&key).await.unwrap().unwrap();
    assert_eq!(
        (
            expanded.calendar_id.as_deref(),
            expanded.expanded_through,
            expanded.expanded_at,
            expanded.deleted_at
        ),
        (Some("cal-1"), Some(9_000), Some(at(10)), None)
    );

    series.mark_series_deleted(&key, at(20)).await.unwrap();
    assert!(series.series_occurrences(&key).await.unwrap().is_empty());
    let deleted = series.load_series(&key).await.unwrap().unwrap();
    assert_eq!(deleted.deleted_at, Some(at(20)));
    assert_eq!(deleted.expanded_through, Some(9_000));

    // Listed completely again (the master is back): live again.
    series
        .record_expansion(&key, Some("cal-2"), 9_500, &[], at(30))
        .await
        .unwrap();
    let revived = series.load_series(&key).await.unwrap().unwrap();
    assert_eq!(
        (revived.calendar_id.as_deref(), revived.deleted_at),
        (Some("cal-2"), None)
    );

    // A master deleted before calsync saw its series is remembered deleted all the same.
    let unseen = SeriesKey::new("grant-1", "master-unseen");
    series.mark_series_deleted(&unseen, at(40)).await.unwrap();
    assert_eq!(
        series
            .load_series(&unseen)
            .await
            .unwrap()
            .unwrap()
            .deleted_at,
        Some(at(40))
    );
}

pub async fn series_behind_the_horizon_are_due_for_refresh(backend: Backend) {
    let series: &dyn SeriesStore = &*backend.store;
    let never = SeriesKey::new("grant-1", "a-never-listed");
    let behind = SeriesKey::new("grant-1", "b-behind");
    let current = SeriesKey::new("grant-1", "c-current");
    let deleted = SeriesKey::new("grant-1", "d-deleted");
    let elsewhere = SeriesKey::new("grant-2", "e-other-grant");
    series
        .add_occurrences(&never, Some("cal-1"), &[occurrence("o", Some(1))])
        .await
        .unwrap();
    for (key, through) in [
        (&behind, 1_000),
        (&current, 5_000),
        (&deleted, 1_000),
        (&elsewhere, 1_000),
    ] {
        series
            .record_expansion(key, Some("cal-1"), through, &[], at(1))
            .await
            .unwrap();
    }
    series.mark_series_deleted(&deleted, at(2)).await.unwrap();

    let due = series
        .series_to_refresh(&"grant-1".into(), 2_000, 10)
        .await
        .unwrap();
    let names: Vec<&str> = due.iter().map(|s| s.key.master_event_id.as_str()).collect();
    assert_eq!(names, ["a-never-listed", "b-behind"]);
    let limited = series
        .series_to_refresh(&"grant-1".into(), 2_000, 1)
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
    assert!(
        series
            .series_to_refresh(&"grant-1".into(), 900, 10)
            .await
            .unwrap()
            .iter()
            .all(|s| s.key == never)
    );
}
