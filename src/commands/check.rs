//! `calsync check`: validates the configuration and reaches every dependency with the
//! configured credentials — Nylas (list one grant, then the webhooks' status), the CRM (the
//! adapter's authenticated read, [`CrmAdapter::check`]) and the store (opened read-only, then
//! `ping`) — printing one line per check with its verdict and the reason.
//!
//! Invariants: `check` changes nothing and creates nothing — no store file, no migration, no
//! CRM record, no dry-run file; only reads are sent. A wrong CRM base URL or path is a failure
//! naming the URL tried. The configuration is printed redacted
//! ([`Settings::redacted_summary`]) and no check line contains a secret (errors from the
//! clients are scrubbed of their credentials, and URL passwords are shown as `***`);
//! every check runs even when an earlier one failed, except those that depend on it (shown as
//! skipped); the report passes only when no line is a failure.

use std::fmt;
use std::io::Write;
use std::sync::Arc;

use secrecy::ExposeSecret;

use crate::app::{self, AppError};
use crate::background::subscription_monitor::{Assessment, explain, status_of};
use crate::cause::{Chain, chain};
use crate::config::Settings;
use crate::crm::transport::CrmTransport;
use crate::crm::{self, CrmAdapter};
use crate::nylas::NylasClient;
use crate::retry::Retry;
use crate::store;
use crate::telemetry::metrics::Metrics;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It works.
    Pass,
    /// Works, but something needs attention; does not fail the report.
    Warn,
    /// It does not work; the report fails.
    Fail,
    /// Not run because a check it depends on failed.
    Skip,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        })
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    /// `configuration`, `webhook secrets`, `nylas`, `webhooks`, `crm` or `store`.
    pub name: &'static str,
    /// How the check went.
    pub verdict: Verdict,
    /// What was found, or why it failed.
    pub detail: String,
}

/// Every line of a check run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// The lines, in the order the checks ran.
    pub lines: Vec<CheckLine>,
}

impl CheckReport {
    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.failures() == 0
    }

    /// How many checks failed.
    pub fn failures(&self) -> usize {
        let failed = |line: &&CheckLine| line.verdict == Verdict::Fail;
        self.lines.iter().filter(failed).count()
    }

    /// The line of a check, if it ran.
    pub fn line(&self, name: &str) -> Option<&CheckLine> {
        self.lines.iter().find(|line| line.name == name)
    }
}

/// Why the checks could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The clients could not be built from the settings.
    #[error("cannot build the HTTP client")]
    Setup(#[source] AppError),
    /// The report could not be written.
    #[error("cannot write the check report")]
    Output(#[source] std::io::Error),
}

/// Prints the report as it goes.
struct Reporter<'a, W: Write> {
    out: &'a mut W,
    report: CheckReport,
}

impl<W: Write> Reporter<'_, W> {
    fn add(
        &mut self,
        name: &'static str,
        verdict: Verdict,
        detail: String,
    ) -> Result<(), CheckError> {
        let detail = redact_passwords(&detail);
        writeln!(self.out, "{verdict}  {name:<15}  {detail}").map_err(CheckError::Output)?;
        self.report.lines.push(CheckLine {
            name,
            verdict,
            detail,
        });
        Ok(())
    }
}

/// Runs every check against `settings`, writing the redacted configuration and one line per
/// check to `out`.
pub async fn run(settings: &Settings, out: &mut impl Write) -> Result<CheckReport, CheckError> {
    print_summary(settings, out).map_err(CheckError::Output)?;
    let http = app::http_client().map_err(CheckError::Setup)?;
    let mut reporter = Reporter {
        out,
        report: CheckReport::default(),
    };
    reporter.add(
        "configuration",
        Verdict::Pass,
        format!("valid (crm.kind = {})", settings.crm.kind()),
    )?;
    let (verdict, detail) = webhook_secrets(settings);
    reporter.add("webhook secrets", verdict, detail)?;
    let nylas = NylasClient::new(&settings.nylas, http.clone());
    let (verdict, detail) = check_nylas(settings, &nylas).await;
    reporter.add("nylas", verdict, detail)?;
    let (verdict, detail) = if verdict == Verdict::Fail {
        (Verdict::Skip, "Nylas cannot be reached".to_string())
    } else {
        check_subscriptions(&nylas).await
    };
    reporter.add("webhooks", verdict, detail)?;
    let (verdict, detail) = check_crm(settings, http).await;
    reporter.add("crm", verdict, detail)?;
    let (verdict, detail) = check_store(settings).await;
    reporter.add("store", verdict, detail)?;
    let report = reporter.report;
    let closing = match report.failures() {
        0 => "All checks passed.".to_string(),
        failed => format!("{failed} check(s) failed."),
    };
    writeln!(out, "{closing}").map_err(CheckError::Output)?;
    Ok(report)
}

/// The configuration, secrets shown as `***`.
fn print_summary(settings: &Settings, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "Configuration (secrets shown as ***):")?;
    for (key, value) in settings.redacted_summary() {
        writeln!(out, "  {key} = {value}")?;
    }
    writeln!(out)
}

fn webhook_secrets(settings: &Settings) -> (Verdict, String) {
    match settings.nylas.webhook_secrets.len() {
        0 => (
            Verdict::Warn,
            "none configured: serve answers notifications 503 until nylas.webhook_secrets (or NYLAS_WEBHOOK_SECRET) is set; the challenge is answered".to_string(),
        ),
        count => (Verdict::Pass, format!("{count} configured")),
    }
}

async fn check_nylas(settings: &Settings, nylas: &NylasClient) -> (Verdict, String) {
    let api_uri = &settings.nylas.api_uri;
    if settings.nylas.api_key.is_none() {
        return (
            Verdict::Fail,
            "no API key is configured (set nylas.api_key or NYLAS_API_KEY)".to_string(),
        );
    }
    match nylas.list_grants(1, 0).await {
        Ok(page) if page.received() == 0 => (
            Verdict::Warn,
            format!(
                "reached {api_uri} with the API key, but the application has no grant yet: connect a calendar"
            ),
        ),
        Ok(_) => (
            Verdict::Pass,
            format!("reached {api_uri} with the API key and listed a grant"),
        ),
        Err(error) => {
            let hint = if error.status() == Some(401) {
                " (the API key was rejected: check nylas.api_key, and that nylas.api_uri is the key's region)"
            } else {
                ""
            };
            (Verdict::Fail, format!("{}{hint}", Chain(&error)))
        }
    }
}

async fn check_subscriptions(nylas: &NylasClient) -> (Verdict, String) {
    let subscriptions = match nylas.list_subscriptions().await {
        Ok(subscriptions) => subscriptions,
        Err(error) => return (Verdict::Fail, chain(&error)),
    };
    let assessment = Assessment::of(subscriptions);
    if let Some(bad) = assessment.unhealthy().next() {
        let status = status_of(bad);
        return (
            Verdict::Fail,
            format!("webhook {} is {status}: {}", bad.id, explain(status)),
        );
    }
    if assessment.watched.is_empty() {
        return (
            Verdict::Warn,
            "no webhook delivers event notifications: create one with calsync webhook create --url https://<host>/webhooks/nylas".to_string(),
        );
    }
    let summary = assessment
        .counts
        .iter()
        .map(|(status, count)| format!("{count} {status}"))
        .collect::<Vec<_>>()
        .join(", ");
    let verdict = if assessment.healthy() {
        Verdict::Pass
    } else {
        Verdict::Warn
    };
    (
        verdict,
        format!("webhooks delivering event notifications: {summary}"),
    )
}

async fn check_crm(settings: &Settings, http: reqwest::Client) -> (Verdict, String) {
    let transport = CrmTransport::new(
        http,
        settings.crm.kind(),
        settings.sync.crm_requests_per_second,
        Arc::new(Metrics::new()),
    );
    let adapter: Arc<dyn CrmAdapter> = match crm::build(settings, transport) {
        Ok(adapter) => adapter,
        Err(error) => return (Verdict::Fail, chain(&error)),
    };
    match adapter.check().await {
        Ok(()) => (
            Verdict::Pass,
            format!(
                "{} answered an authenticated read ({})",
                adapter.kind(),
                adapter.target()
            ),
        ),
        Err(error) => {
            let hint = if error.retry() == Retry::Auth {
                " (the CRM rejected the configured credentials)"
            } else {
                ""
            };
            (Verdict::Fail, format!("{}{hint}", Chain(&error)))
        }
    }
}

/// Opens the existing store read-only (a missing SQLite file is reported, never created; no
/// migration runs) and pings it.
async fn check_store(settings: &Settings) -> (Verdict, String) {
    let url = store::redact_url(settings.store.url.expose_secret());
    let opened = match store::open_existing(settings.store.url.expose_secret()).await {
        Ok(opened) => opened,
        Err(error) => return (Verdict::Fail, chain(&error)),
    };
    let pinged = opened.ping().await;
    opened.close().await;
    match pinged {
        Ok(()) => (
            Verdict::Pass,
            format!(
                "{} store at {url} answers, with the current schema",
                opened.backend()
            ),
        ),
        Err(error) => (Verdict::Fail, chain(&error)),
    }
}

/// `text` with the password of every `scheme://user:password@host` in it replaced by `***`.
fn redact_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("://") {
        let start = found + 3;
        let end = rest[start..]
            .find(|c: char| c == '/' || c == '?' || c == '#' || c == ')' || c.is_whitespace())
            .map_or(rest.len(), |index| start + index);
        let authority = &rest[start..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&rest[..start + colon + 1]);
                out.push_str("***");
                out.push_str(&rest[start + at..end]);
            }
            _ => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted_wherever_they_appear() {
        assert_eq!(
            redact_passwords(
                "rest:https://calsync:s3cret@crm.example.com/api/meetings answered (http://u:p@h)"
            ),
            "rest:https://calsync:***@crm.example.com/api/meetings answered (http://u:***@h)"
        );
        let plain = "nothing at GET http://127.0.0.1:8080/api/meetings: check it";
        assert_eq!(redact_passwords(plain), plain);
        assert_eq!(
            redact_passwords("user@example.com a://b"),
            "user@example.com a://b"
        );
    }
}
