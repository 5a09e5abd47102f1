use super::*;

#[test]
fn the_bar_hides_per_event_lines_only() {
    let level = behind_bar_log_level("info,sqlx=warn");
    assert_eq!(level, "info,sqlx=warn,calsync::worker=warn");
    assert!(crate::telemetry::env_filter(&level).is_ok());
}

#[test]
fn every_event_lands_in_one_count_and_failures_fail_the_run() {
    let progress = Progress::new(
        ProgressMode::Log,
        Window {
            start: 0,
            end: 86_400,
        },
    );
    progress.grants_found(3);
    progress.grant_skipped(SkipReason::NotValid);
    progress.calendars_found(2, 1);
    for outcome in [
        EventOutcome::Synced(SyncOutcome::Created),
        EventOutcome::Synced(SyncOutcome::Updated),
        EventOutcome::Synced(SyncOutcome::Unchanged),
        EventOutcome::Synced(SyncOutcome::Stale),
        EventOutcome::Synced(SyncOutcome::NothingToDelete),
        EventOutcome::HandedToServe,
    ] {
        progress.event(outcome);
    }
    progress.calendar_done();
    progress.calendar_done();
    progress.grant_done("g1");
    let summary = progress.finish();
    assert_eq!(summary.events_seen, 6);
    assert_eq!(
        (
            summary.created,
            summary.updated,
            summary.unchanged,
            summary.deleted,
            summary.handed_to_serve
        ),
        (1, 1, 2, 1, 1)
    );
    assert!(summary.succeeded());
    let text = summary.to_string();
    assert!(text.starts_with("Backfill finished."), "{text}");
    assert!(text.contains("events seen:     6"), "{text}");
    assert!(
        text.contains("1 skipped (not valid: 1, paused or deleted: 0)"),
        "{text}"
    );

    let mut failed = summary.clone();
    failed.failed = 1;
    assert!(!failed.succeeded() && failed.listing_complete());
    let mut broken = summary;
    broken.calendars_failed = 1;
    assert!(!broken.succeeded() && !broken.listing_complete());
}

#[test]
fn the_bar_counts_calendars() {
    assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
    let progress = Progress::new(ProgressMode::Bar, Window { start: 0, end: 1 });
    progress.calendars_found(4, 0);
    progress.calendar_done();
    progress.event(EventOutcome::Synced(SyncOutcome::Created));
    let bar = progress.bar.as_ref().unwrap();
    assert_eq!((bar.position(), bar.length()), (1, Some(4)));
    assert!(bar.message().contains("created 1"), "{}", bar.message());
    assert_eq!(progress.finish().created, 1);
}
