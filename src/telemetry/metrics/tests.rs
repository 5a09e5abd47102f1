//! Tests of the metrics registry: names, labels, zero values, the store-wide split.

use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::store::JobStats;

#[test]
fn renders_prefixed_metrics_with_bounded_labels() {
    let metrics = Metrics::new();
    metrics.notification("event.updated.transformed", "accepted");
    metrics.notification("", "bad_request");
    metrics.crm_request("rest", "create", Some(201), Duration::from_millis(12));
    metrics.crm_request("rest", "update", None, Duration::from_millis(3));
    metrics.record_outcome("created");
    metrics.set_job_stats(
        &JobStats {
            pending: 3,
            in_flight: 1,
            retrying: 2,
            dead: 0,
            oldest_pending: Some(Timestamp::from_second(100).unwrap()),
        },
        Timestamp::from_second(130).unwrap(),
    );
    let text = metrics.render();
    for expected in [
        r#"calsync_notifications_received_total{trigger="event.updated",result="accepted"} 1"#,
        r#"calsync_notifications_received_total{trigger="unknown",result="bad_request"} 1"#,
        r#"calsync_crm_requests_total{kind="rest",operation="create",status="201"} 1"#,
        r#"calsync_crm_requests_total{kind="rest",operation="update",status="error"} 1"#,
        r#"calsync_records_total{outcome="created"} 1"#,
        r#"calsync_jobs{state="pending"} 3"#,
        r#"calsync_jobs{state="retrying"} 2"#,
        "calsync_oldest_pending_job_age_seconds 30",
        "calsync_crm_request_seconds_bucket",
        "calsync_ingest_seconds_count 0",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn each_handle_has_its_own_registry() {
    let first = Metrics::new();
    let second = Metrics::new();
    first.record_outcome("created");
    assert!(
        first
            .render()
            .contains(r#"calsync_records_total{outcome="created"} 1"#)
    );
    assert!(
        second
            .render()
            .contains(r#"calsync_records_total{outcome="created"} 0"#)
    );
}

/// Metric name → number of samples, from a scrape.
fn samples(text: &str) -> std::collections::BTreeMap<String, usize> {
    let mut families: std::collections::BTreeMap<String, usize> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .map(|name| (name.to_owned(), 0))
        .collect();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        let family = families
            .keys()
            .filter(|family| name.starts_with(family.as_str()))
            .max_by_key(|family| family.len())
            .cloned();
        if let Some(family) = family {
            *families.entry(family).or_default() += 1;
        }
    }
    families
}

#[test]
fn a_fresh_registry_has_every_bounded_series_at_zero() {
    let metrics = Metrics::new();
    metrics.prime_upstreams("crm:rest");
    let text = metrics.render();
    let families = samples(&text);
    for family in [
        "calsync_build_info",
        "calsync_store_gauges_exporter",
        "calsync_notifications_received_total",
        "calsync_ingest_seconds",
        "calsync_records_total",
        "calsync_job_failures_total",
        "calsync_auth_failures_total",
        "calsync_target_paused",
        "calsync_webhooks",
        "calsync_notifications_pruned_total",
        "calsync_reconcile_passes_total",
        "calsync_reconcile_events_enqueued_total",
        "calsync_reconcile_last_success_timestamp_seconds",
        "calsync_jobs",
        "calsync_oldest_pending_job_age_seconds",
        "calsync_grants_paused",
    ] {
        assert!(
            families.get(family).is_some_and(|n| *n > 0),
            "{family} in:\n{text}"
        );
    }
    for sample in [
        r#"calsync_notifications_received_total{trigger="unknown",result="bad_signature"} 0"#,
        r#"calsync_notifications_received_total{trigger="event.updated",result="accepted"} 0"#,
        r#"calsync_jobs{state="dead"} 0"#,
        r#"calsync_webhooks{status="failing"} 0"#,
        r#"calsync_auth_failures_total{target="crm:rest"} 0"#,
        r#"calsync_auth_failures_total{target="nylas_grant"} 0"#,
        r#"calsync_target_paused{target="nylas"} 0"#,
        r#"calsync_reconcile_passes_total{pass="full",result="not_leader"} 0"#,
    ] {
        assert!(text.contains(sample), "missing {sample:?} in:\n{text}");
    }
    let build = format!(
        "calsync_build_info{{version=\"{}\",git_sha=\"{}\"}} 1",
        crate::version::VERSION,
        crate::version::GIT_SHA
    );
    assert!(text.contains(&build), "{text}");
}

#[test]
fn store_wide_gauges_render_only_on_the_exporter() {
    let metrics = Metrics::new();
    let exporter = metrics.render_scrape(true);
    let other = metrics.render_scrape(false);
    for family in [
        "calsync_jobs",
        "calsync_oldest_pending_job_age_seconds",
        "calsync_grants_paused",
    ] {
        assert!(
            exporter.contains(&format!("# TYPE {family} gauge")),
            "{exporter}"
        );
        assert!(!other.contains(&format!("# TYPE {family} ")), "{other}");
    }
    assert!(other.contains("calsync_records_total"), "{other}");
}

#[test]
fn the_trigger_label_is_a_known_type_or_other() {
    let metrics = Metrics::new();
    for trigger in [
        "event.created.transformed",
        "event.updated",
        "grant.expired",
    ] {
        metrics.notification(trigger, "accepted");
    }
    for random in ["x.y", "event.exploded", "a", "message.created", "e\nvil"] {
        metrics.notification(random, "ignored");
    }
    metrics.notification("", "bad_signature");
    let text = metrics.render();
    for expected in [
        r#"calsync_notifications_received_total{trigger="event.created",result="accepted"} 1"#,
        r#"calsync_notifications_received_total{trigger="grant.expired",result="accepted"} 1"#,
        r#"calsync_notifications_received_total{trigger="other",result="ignored"} 5"#,
        r#"calsync_notifications_received_total{trigger="unknown",result="bad_signature"} 1"#,
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let triggers: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.split("trigger=\"").nth(1)?.split('"').next())
        .collect();
    let bounded =
        |t: &&str| KNOWN_TRIGGERS.contains(t) || [OTHER_TRIGGER, UNKNOWN_TRIGGER].contains(t);
    assert!(triggers.iter().all(bounded), "{triggers:?}");
}
