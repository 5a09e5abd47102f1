//! The monitoring kit in `deploy/` stays true: the Prometheus rules are exactly the alerts the
//! README recommends, and every metric the rules and the Grafana dashboard name is one calsync
//! exports (a renamed or removed metric fails here, not silently in production).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use calsync::telemetry::metrics::Metrics;
use serde_json::Value;

const RULES: &str = include_str!("../../../deploy/prometheus/calsync-alerts.yml");
const DASHBOARD: &str = include_str!("../../../deploy/grafana/calsync-dashboard.json");
const README: &str = include_str!("../../../README.md");
const REGISTRY_SOURCE: &str = include_str!("../../../src/telemetry/metrics.rs");

/// Family name → type, from the `# TYPE` lines of a scrape of a fresh registry in which the
/// per-target and per-request families (absent until the CRM kind is known or the first
/// request) have samples.
fn exported_families() -> BTreeMap<String, String> {
    let metrics = Metrics::new();
    metrics.prime_upstreams("crm:rest");
    metrics.crm_request("rest", "rest create", Some(201), Duration::from_millis(5));
    metrics.nylas_request("GET /v3/grants/{grant_id}/events/{event_id}", Some(200));
    metrics.set_crm_quota("hubspot", "daily_remaining", 1);
    metrics
        .render()
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(name, kind)| (name.to_owned(), kind.to_owned()))
        .collect()
}

/// Every series name a scrape can hold: counters as `…_total` (the `# TYPE` line already names
/// them so), histograms as `_bucket`, `_sum` and `_count`, gauges as themselves.
fn series_names() -> BTreeSet<String> {
    let families = exported_families();
    let registered = REGISTRY_SOURCE.matches("registry.register(").count();
    assert_eq!(
        families.len(),
        registered,
        "every registered family is rendered: {families:?}"
    );
    families
        .iter()
        .flat_map(|(name, kind)| match kind.as_str() {
            "counter" if name.ends_with("_total") => vec![name.clone()],
            "counter" => vec![format!("{name}_total")],
            "histogram" => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{name}{suffix}"))
                .collect(),
            _ => vec![name.clone()],
        })
        .collect()
}

/// Every `calsync_…` name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("calsync_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

fn normalized(expr: &str) -> String {
    expr.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The expressions of the README's "Alerts worth having", with `<reconcile.interval>` at its
/// default (15m).
fn recommended_alerts() -> BTreeSet<String> {
    let paragraph = README
        .split("Alerts worth having:")
        .nth(1)
        .expect("the README recommends alerts")
        .split("\n\n")
        .next()
        .unwrap();
    paragraph
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|expr| normalized(&expr.replace("<reconcile.interval>", "900")))
        .collect()
}

fn rules() -> Vec<Value> {
    let rules: Value = serde_yaml_ng::from_str(RULES).expect("valid YAML");
    rules["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .flat_map(|group| group["rules"].as_array().expect("rules").clone())
        .collect()
}

#[test]
fn the_alert_rules_are_the_alerts_the_readme_recommends() {
    let rules = rules();
    let expressions: BTreeSet<String> = rules
        .iter()
        .map(|rule| normalized(rule["expr"].as_str().expect("an expr")))
        .collect();
    let recommended = recommended_alerts();
    assert_eq!(recommended.len(), 6, "{recommended:?}");
    assert_eq!(expressions, recommended);
    for rule in &rules {
        let name = rule["alert"].as_str().expect("an alert name");
        assert!(name.starts_with("Calsync"), "{name}");
        assert!(rule["labels"]["severity"].is_string(), "{name}: a severity");
        assert!(
            rule["annotations"]["summary"].is_string(),
            "{name}: a summary"
        );
    }
}

#[test]
fn every_metric_the_rules_and_the_dashboard_name_is_exported() {
    let series = series_names();
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("valid JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let queried: String = panels
        .iter()
        .flat_map(|panel| panel["targets"].as_array().expect("targets").clone())
        .map(|target| target["expr"].as_str().expect("an expr").to_owned())
        .collect::<Vec<_>>()
        .join("\n");
    for (file, text) in [("alerts", RULES), ("dashboard", DASHBOARD)] {
        let named = metric_names(text);
        assert!(!named.is_empty(), "{file} names metrics");
        let unknown: Vec<_> = named.difference(&series).collect();
        assert!(
            unknown.is_empty(),
            "{file} names unexported metrics: {unknown:?}"
        );
    }
    // Each alert has its panel.
    for rule in rules() {
        for name in metric_names(rule["expr"].as_str().unwrap()) {
            assert!(queried.contains(&name), "no dashboard panel shows {name}");
        }
    }
}

#[test]
fn a_renamed_metric_would_be_caught() {
    let series = series_names();
    assert!(series.contains("calsync_jobs"));
    assert!(series.contains("calsync_auth_failures_total"));
    assert!(series.contains("calsync_crm_request_seconds_bucket"));
    let named = metric_names("rate(calsync_job_failure_total[5m]) + calsync_jobs");
    let unknown: Vec<_> = named.difference(&series).collect();
    assert_eq!(unknown, ["calsync_job_failure_total"]);
}
