//! What the demo observed for each notification ([`Outcome`], [`StepReport`]), and how it is
//! printed.
//!
//! Invariant: an outcome is derived only from observations — whether the store had already
//! logged the notification, the requests the CRM answered, the record's sync state and a dead
//! letter — never from what the sample meant to show.

use std::collections::HashSet;
use std::io::{self, Write};

use super::crm::{CrmRecord, CrmRequest};
use super::samples::Step;
use crate::store::SyncState;

/// What became of one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The CRM created this record.
    Created(String),
    /// The CRM updated this record.
    Updated(String),
    /// The CRM soft-deleted this record.
    SoftDeleted(String),
    /// The notification was already stored (a redelivery): acknowledged, nothing else.
    Redelivery,
    /// Processed; the record already held this content, so no CRM call.
    Unchanged,
    /// Processed; the event is gone and there was no record to delete.
    NothingToDelete,
    /// The job failed for good, with this error.
    DeadLettered(String),
}

impl Outcome {
    /// Derives the outcome from what was observed.
    pub fn observed(
        already_stored: bool,
        requests: &[CrmRequest],
        state: Option<&SyncState>,
        dead_letter: Option<String>,
    ) -> Outcome {
        if let Some(error) = dead_letter {
            return Outcome::DeadLettered(error);
        }
        let write = requests.iter().rev().find(|request| {
            (200..300).contains(&request.status)
                && matches!(request.method.as_str(), "POST" | "PUT" | "DELETE")
        });
        let id = write.and_then(|request| request.record_id.clone());
        match (write.map(|request| request.method.as_str()), id) {
            (Some("POST"), Some(id)) => Outcome::Created(id),
            (Some("PUT"), Some(id)) => Outcome::Updated(id),
            (Some("DELETE"), Some(id)) => Outcome::SoftDeleted(id),
            _ if already_stored => Outcome::Redelivery,
            _ if state.is_some_and(|state| state.tombstone) => Outcome::NothingToDelete,
            _ => Outcome::Unchanged,
        }
    }

    /// A short name: `created`, `updated`, …
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Created(_) => "created",
            Outcome::Updated(_) => "updated",
            Outcome::SoftDeleted(_) => "soft-deleted",
            Outcome::Redelivery => "redelivery ignored",
            Outcome::Unchanged => "unchanged",
            Outcome::NothingToDelete => "nothing to delete",
            Outcome::DeadLettered(_) => "dead-lettered",
        }
    }
}

/// What the demo observed for one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// The notification's id.
    pub notification_id: String,
    /// The notification's type (`event.created`, …).
    pub trigger: String,
    /// The event it is about.
    pub event_id: String,
    /// The daemon's HTTP status for the POST.
    pub answer: u16,
    /// The requests the CRM answered while the notification was processed.
    pub crm_requests: Vec<CrmRequest>,
    /// What calsync did, derived from the observations.
    pub outcome: Outcome,
    /// The `meeting_status` of the record the CRM holds for the event afterwards, if any.
    pub record_status: Option<String>,
}

/// The opening lines.
pub fn introduction(out: &mut impl Write, webhook_url: &str, steps: usize) -> io::Result<()> {
    writeln!(
        out,
        "calsync demo: the real daemon is serving {webhook_url}"
    )?;
    writeln!(
        out,
        "(webhook edge, signature check, SQLite store in a temporary directory, workers, mapping,"
    )?;
    writeln!(
        out,
        "the generic REST adapter), reading a built-in sample calendar through its Nylas client and"
    )?;
    writeln!(
        out,
        "writing to a built-in CRM, both on loopback. It posts {steps} signed notifications, one at a"
    )?;
    writeln!(
        out,
        "time, and waits for each job to finish. Nothing leaves this machine.\n"
    )
}

/// One notification's lines.
pub fn step(
    out: &mut impl Write,
    number: usize,
    total: usize,
    sample: &Step,
    report: &StepReport,
) -> io::Result<()> {
    writeln!(
        out,
        "[{number}/{total}] {} {} (notification {})",
        report.trigger, report.event_id, report.notification_id
    )?;
    writeln!(out, "      {}", sample.note)?;
    let calls = if report.crm_requests.is_empty() {
        "no request".to_owned()
    } else {
        let calls: Vec<String> = report
            .crm_requests
            .iter()
            .map(|request| format!("{} {} → {}", request.method, request.target, request.status))
            .collect();
        calls.join(", ")
    };
    writeln!(
        out,
        "      webhook answered {} · CRM: {calls}",
        report.answer
    )?;
    let status = match (&report.outcome, report.record_status.as_deref()) {
        (Outcome::Created(_) | Outcome::Updated(_), Some(status)) => {
            format!(" (meeting_status: {status})")
        }
        _ => String::new(),
    };
    writeln!(
        out,
        "      outcome: {}{status}\n",
        describe(&report.outcome)
    )
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Created(id) => format!("created record {id}"),
        Outcome::Updated(id) => format!("updated record {id}"),
        Outcome::SoftDeleted(id) => format!("soft-deleted record {id}"),
        Outcome::Redelivery => {
            "redelivery ignored: this notification id was already stored, so no job and no CRM call"
                .to_owned()
        }
        Outcome::Unchanged => {
            "unchanged: the mapped record is identical to the one written, so no CRM call"
                .to_owned()
        }
        Outcome::NothingToDelete => "nothing to delete: no record was ever written".to_owned(),
        Outcome::DeadLettered(error) => format!("dead-lettered: {error}"),
    }
}

/// The CRM's records: a table, or JSON.
pub fn records(out: &mut impl Write, records: &[CrmRecord], json: bool) -> io::Result<()> {
    let events: HashSet<&str> = records
        .iter()
        .filter_map(|record| record.field("external_event_id"))
        .collect();
    writeln!(
        out,
        "The CRM holds {} record(s) for {} event(s):",
        records.len(),
        events.len()
    )?;
    if json {
        let text = serde_json::to_string_pretty(records).map_err(io::Error::other)?;
        return writeln!(out, "{text}");
    }
    for record in records {
        record_lines(out, record)?;
    }
    Ok(())
}

fn record_lines(out: &mut impl Write, record: &CrmRecord) -> io::Result<()> {
    let field = |name| record.field(name).unwrap_or("-");
    let when = if record.record["all_day"] == true {
        format!("{} all day", field("meeting_date").get(..10).unwrap_or("-"))
    } else {
        field("meeting_date").to_owned()
    };
    let minutes = record.record["duration_minutes"].as_i64().unwrap_or(0);
    let duration = match minutes {
        1440 => "1 day".to_owned(),
        minutes if minutes > 0 && minutes % 1440 == 0 => format!("{} days", minutes / 1440),
        minutes => format!("{minutes} min"),
    };
    let deleted = if record.deleted {
        "  (soft-deleted)"
    } else {
        ""
    };
    writeln!(
        out,
        "  {}  {:<20}  {:<9}  {:<20}  {:>7}  {}{deleted}",
        record.id,
        field("external_event_id"),
        field("meeting_status"),
        when,
        duration,
        field("meeting_subject"),
    )?;
    let attendees: Vec<String> = record.record["attendees"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|attendee| {
                    let email = attendee["email"].as_str().unwrap_or("-");
                    let rsvp = attendee["rsvp_status"].as_str().unwrap_or("-");
                    format!("{email} ({rsvp})")
                })
                .collect()
        })
        .unwrap_or_default();
    writeln!(out, "         attendees: {}", attendees.join(", "))?;
    if let Some(notes) = record.field("notes") {
        let notes: Vec<&str> = notes
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        writeln!(out, "         notes: {}", notes.join(" / "))?;
    }
    Ok(())
}

/// The closing lines: the outcomes counted.
pub fn conclusion(out: &mut impl Write, reports: &[StepReport]) -> io::Result<()> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for report in reports {
        let name = report.outcome.name();
        match counts.iter_mut().find(|(known, _)| *known == name) {
            Some((_, count)) => *count += 1,
            None => counts.push((name, 1)),
        }
    }
    let counts: Vec<String> = counts
        .iter()
        .map(|(name, count)| format!("{count} {name}"))
        .collect();
    writeln!(
        out,
        "\n{} notifications: {}.",
        reports.len(),
        counts.join(", ")
    )?;
    writeln!(
        out,
        "The temporary store is removed. `calsync demo --json` prints the records as the CRM received"
    )?;
    writeln!(
        out,
        "them; the README's Quick start connects a real calendar and CRM."
    )
}
