//! [`Subject`]: one CRM kind and its fake, seen through what every conformance scenario needs —
//! the meetings it holds (as [`Written`]), the requests it received, and the troubles it can be
//! told to make (a lost answer, a deletion by a user, throttling, a spent daily allowance, an
//! expired credential). What a kind cannot do (REST has no contacts and no daily cap) answers
//! `None`/`false`, and the scenario says it does not apply.

use serde_json::Value;
use tokio::time::Instant;

use crate::support::fake_crm::{FakeCrm, Scripted};
use crate::support::fake_hubspot::{FakeHubSpot, Throttle};
use crate::support::fake_pipedrive::FakePipedrive;
use crate::support::fake_salesforce::{EXTERNAL_ID_FIELD, FakeSalesforce};
use crate::support::fake_vendor::{Recorded, Seen};
use crate::support::harness::{CrmFake, TestApp};

/// A meeting as the fake holds it, in every vendor's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub id: String,
    pub title: String,
    /// Marked cancelled the vendor's way (status, outcome, subject prefix, …).
    pub cancelled: bool,
    /// Soft-deleted, archived or in the recycle bin.
    pub deleted: bool,
}

/// A request the fake received (token requests left out).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The query string ("" when none).
    pub query: String,
    pub at: Instant,
}

impl Request {
    /// `path` and `query` of a fake that records them together.
    fn split(method: String, target: &str, at: Instant) -> Request {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Request {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            at,
        }
    }
}

/// What the metrics show around a spent daily allowance.
pub struct DailyCapSigns {
    /// Metric lines after the first write (before the allowance runs out).
    pub before: Vec<&'static str>,
    /// Metric lines once it has run out.
    pub spent: Vec<&'static str>,
    /// The least a held-back job waits, in seconds.
    pub least_wait: u64,
}

/// The CRM under test.
pub enum Subject {
    Rest(FakeCrm),
    HubSpot(FakeHubSpot),
    Pipedrive(FakePipedrive),
    Salesforce(FakeSalesforce),
}

impl Subject {
    /// The fake `app` writes to.
    pub fn of(app: &TestApp, kind: CrmFake) -> Subject {
        match kind {
            CrmFake::Rest => Subject::Rest(app.crm.clone()),
            CrmFake::HubSpot => Subject::HubSpot(app.hubspot().clone()),
            CrmFake::Pipedrive => Subject::Pipedrive(app.pipedrive().clone()),
            CrmFake::Salesforce => Subject::Salesforce(app.salesforce.clone().unwrap()),
        }
    }

    /// Every meeting ever written for the event, deleted or not.
    pub fn written_for(&self, event_id: &str) -> Vec<Written> {
        match self {
            Subject::Rest(crm) => crm.records_for(event_id).iter().map(rest).collect(),
            Subject::HubSpot(hub) => hub.meetings_for(event_id).iter().map(hubspot).collect(),
            Subject::Pipedrive(pd) => pd.activities_for(event_id).iter().map(pipedrive).collect(),
            Subject::Salesforce(org) => org.events_for(event_id).iter().map(salesforce).collect(),
        }
    }

    /// The live meetings (not deleted) of every event.
    pub fn live(&self) -> Vec<Written> {
        let all: Vec<Written> = match self {
            Subject::Rest(crm) => crm.all_records().iter().map(rest).collect(),
            Subject::HubSpot(hub) => hub.live_meetings().iter().map(hubspot).collect(),
            Subject::Pipedrive(pd) => pd.live_activities().iter().map(pipedrive).collect(),
            Subject::Salesforce(org) => org.live_events().iter().map(salesforce).collect(),
        };
        all.into_iter().filter(|written| !written.deleted).collect()
    }

    /// The live meetings of one event.
    pub fn live_for(&self, event_id: &str) -> Vec<Written> {
        let all = self.written_for(event_id).into_iter();
        all.filter(|written| !written.deleted).collect()
    }

    /// The API requests received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        // Salesforce's fake does not time its requests (no scenario measures them there).
        let at = Instant::now();
        match self {
            Subject::Rest(crm) => {
                let times = crm.request_times();
                let requests = crm.requests().into_iter().zip(times);
                requests
                    .map(|((method, target), at)| Request::split(method.to_string(), &target, at))
                    .collect()
            }
            // The adapter's one-time read of the event id property's definition (before its
            // first batch upsert) is setup, not part of a scenario's traffic.
            Subject::HubSpot(hub) => vendor_requests(hub.requests())
                .into_iter()
                .filter(|seen| !seen.path.starts_with("/crm/v3/properties/"))
                .collect(),
            Subject::Pipedrive(pd) => vendor_requests(pd.requests()),
            Subject::Salesforce(org) => org
                .requests()
                .into_iter()
                .map(|(method, target)| Request::split(method.to_string(), &target, at))
                .collect(),
        }
    }

    /// The next create is carried out but its answer is lost.
    pub fn lose_next_create(&self) {
        match self {
            Subject::Rest(crm) => crm.lose_next_create(),
            Subject::HubSpot(hub) => hub.lose_next_batch(),
            Subject::Pipedrive(pd) => pd.lose_next_create(),
            Subject::Salesforce(org) => org.lose_next_create(),
        }
    }

    /// A user deletes (archives, bins) the meeting in the CRM.
    pub fn delete_in_crm(&self, id: &str) {
        match self {
            Subject::Rest(crm) => crm.remove(id),
            Subject::HubSpot(hub) => hub.archive(id),
            Subject::Pipedrive(pd) => pd.delete_activity(id.parse().unwrap()),
            Subject::Salesforce(org) => org.delete_record(id),
        }
    }

    /// The next request is throttled for one second (a burst limit); false where the vendor
    /// has no such signal (Salesforce throttles by its daily allocation only).
    pub fn throttle_burst(&self) -> bool {
        match self {
            Subject::Rest(crm) => crm.script([Scripted {
                status: 429,
                retry_after: Some("1".into()),
            }]),
            Subject::HubSpot(hub) => hub.throttle([Throttle::TenSecondly {
                retry_after: Some(1),
                interval_ms: 10_000,
            }]),
            Subject::Pipedrive(pd) => pd.throttle([1]),
            Subject::Salesforce(_) => return false,
        }
        true
    }

    /// True when the vendor's adapter waits a short throttle out in place (one drain), rather
    /// than deferring the job for the pause (the generic REST target has no vendor signals).
    pub fn waits_out_bursts_in_place(&self) -> bool {
        !matches!(self, Subject::Rest(_))
    }

    /// Prepares the daily allowance to run out (Pipedrive: a budget the first write leaves at
    /// two tokens); `false` where there is none.
    pub fn prepare_daily_cap(&self) -> bool {
        match self {
            Subject::Rest(_) => return false,
            Subject::Pipedrive(pd) => pd.set_budget(7),
            Subject::HubSpot(_) | Subject::Salesforce(_) => {}
        }
        true
    }

    /// Spends what is left of the daily allowance (Pipedrive: already nearly spent).
    pub fn spend_daily_cap(&self) {
        match self {
            Subject::HubSpot(hub) => hub.throttle([Throttle::Daily]),
            Subject::Salesforce(org) => org.exhaust_api_limit(),
            Subject::Rest(_) | Subject::Pipedrive(_) => {}
        }
    }

    /// What the metrics show around a daily allowance, and the least a held-back job waits.
    pub fn daily_cap_signs(&self) -> DailyCapSigns {
        let (before, spent, least_wait): (&[&str], &[&str], u64) = match self {
            Subject::HubSpot(_) => (
                &[],
                &[r#"calsync_crm_quota{kind="hubspot",quota="daily_remaining"} 0"#],
                30,
            ),
            Subject::Pipedrive(_) => (
                &[r#"calsync_crm_quota{kind="pipedrive",quota="daily_tokens_remaining"} 2"#],
                &[r#"calsync_crm_quota{kind="pipedrive",quota="daily_tokens_remaining"} 0"#],
                30,
            ),
            Subject::Salesforce(_) => (
                &[],
                &[
                    r#"calsync_crm_quota{kind="salesforce",quota="daily_used"} 15000"#,
                    r#"calsync_crm_quota{kind="salesforce",quota="daily_limit"} 15000"#,
                    r#"calsync_target_paused{target="crm:salesforce"} 1"#,
                ],
                4 * 60,
            ),
            Subject::Rest(_) => (&[], &[], 0),
        };
        DailyCapSigns {
            before: before.to_vec(),
            spent: spent.to_vec(),
            least_wait,
        }
    }

    /// The credential stops working (expired, revoked) until [`Subject::renew_credential`].
    pub fn expire_credential(&self) {
        match self {
            Subject::Rest(crm) => crm.revoke_key(),
            Subject::HubSpot(hub) => hub.expire_token(),
            Subject::Pipedrive(pd) => pd.expire_token(),
            Subject::Salesforce(org) => org.revoke_sessions(),
        }
    }

    /// The part of the URL a failed `check()` names: the request it tried (Salesforce: the token
    /// or describe request, whichever failed, so only its host is known here).
    pub fn check_probe(&self) -> &'static str {
        match self {
            Subject::Rest(_) => "GET http://127.0.0.1:",
            Subject::HubSpot(_) => "/crm/objects/2026-03/meetings?limit=1",
            Subject::Pipedrive(_) => "/api/v2/activities?limit=1",
            Subject::Salesforce(_) => " http://127.0.0.1:",
        }
    }

    /// The credential works again.
    pub fn renew_credential(&self) {
        match self {
            Subject::Rest(crm) => crm.restore_key(),
            Subject::HubSpot(hub) => hub.renew_token(),
            Subject::Pipedrive(pd) => pd.renew_token(),
            Subject::Salesforce(org) => org.restore_sessions(),
        }
    }

    /// Checks every request against the vendor's OpenAPI spec (where the fake has one).
    pub fn assert_contract(&self) {
        match self {
            Subject::HubSpot(hub) => hub.assert_contract(),
            Subject::Pipedrive(pd) => pd.assert_contract(),
            Subject::Rest(_) | Subject::Salesforce(_) => {}
        }
    }
}

/// The requests of a spec-checked vendor fake.
fn vendor_requests(seen: Vec<Seen>) -> Vec<Request> {
    let seen = seen.into_iter();
    seen.map(|seen| Request {
        method: seen.method,
        path: seen.path,
        query: seen.query.unwrap_or_default(),
        at: Instant::from_std(seen.at),
    })
    .collect()
}

fn rest(record: &crate::support::fake_crm::CrmRecord) -> Written {
    let text = |name: &str| record.body[name].as_str().unwrap_or_default().to_owned();
    Written {
        id: record.id.clone(),
        title: text("meeting_subject"),
        cancelled: text("meeting_status") == "cancelled",
        deleted: record.deleted,
    }
}

fn hubspot(meeting: &crate::support::fake_hubspot::Meeting) -> Written {
    Written {
        id: meeting.id.clone(),
        title: meeting.prop("hs_meeting_title").to_owned(),
        cancelled: meeting.prop("hs_meeting_outcome") == "CANCELED",
        deleted: meeting.archived,
    }
}

fn pipedrive(activity: &crate::support::fake_pipedrive::Activity) -> Written {
    let subject = activity.text("subject");
    let title = subject.strip_prefix("Cancelled: ").unwrap_or(subject);
    Written {
        id: activity.id.to_string(),
        title: title.to_owned(),
        cancelled: subject.starts_with("Cancelled: ")
            && activity.fields.get("busy") == Some(&Value::Bool(false)),
        deleted: activity.deleted,
    }
}

fn salesforce(event: &crate::support::fake_salesforce::SfRecord) -> Written {
    assert!(!event.text(EXTERNAL_ID_FIELD).is_empty(), "{event:?}");
    let subject = event.text("Subject");
    let title = subject.strip_prefix("Cancelled: ").unwrap_or(subject);
    let cancelled = subject.starts_with("Cancelled: ")
        && event.text("ShowAs") == "Free"
        && event
            .text("Description")
            .contains("This meeting was cancelled.");
    Written {
        id: event.id.clone(),
        title: title.to_owned(),
        cancelled,
        deleted: event.deleted,
    }
}

/// Where the vendor-specific requests of the scenarios go: (method, path suffix).
impl Subject {
    /// The request that updates the meeting `id` in place.
    pub fn update_request(&self, id: &str) -> (&'static str, String) {
        match self {
            Subject::Rest(_) => ("PUT", "/api/meetings".into()),
            // A meeting calsync already wrote is updated by its HubSpot id (in a batch update);
            // only new meetings go through the batch upsert by the event id property.
            Subject::HubSpot(_) => ("POST", "/crm/objects/2026-03/meetings/batch/update".into()),
            Subject::Pipedrive(_) => ("PATCH", format!("/api/v2/activities/{id}")),
            // Batched by default: one sObject Collections upsert by the external id field.
            Subject::Salesforce(_) => (
                "PATCH",
                format!("/composite/sobjects/Event/{EXTERNAL_ID_FIELD}"),
            ),
        }
    }

    /// The request that writes the meeting `id` again after its create's answer was lost: the
    /// update, except on HubSpot, where the idempotent batch upsert by the event id property is
    /// the write (nothing needed finding).
    pub fn recovered_write_request(&self, id: &str) -> (&'static str, String) {
        match self {
            Subject::HubSpot(_) => ("POST", "/crm/objects/2026-03/meetings/batch/upsert".into()),
            _ => self.update_request(id),
        }
    }

    /// The request that soft-deletes the meeting `id`.
    pub fn delete_request(&self, id: &str) -> (&'static str, String) {
        match self {
            Subject::Rest(_) => ("DELETE", "/api/meetings".into()),
            Subject::HubSpot(_) => ("POST", "/crm/objects/2026-03/meetings/batch/archive".into()),
            Subject::Pipedrive(_) => ("DELETE", format!("/api/v2/activities/{id}")),
            // A collections delete (`?ids=<id>&allOrNone=false`).
            Subject::Salesforce(_) => ("DELETE", "/composite/sobjects".into()),
        }
    }

    /// How the meeting of a create whose answer was lost is looked for (method, path suffix,
    /// query fragments); `None` where the write itself is keyed by the event id (Salesforce's
    /// upsert, HubSpot's batch upsert by the unique event id property), so nothing needs
    /// finding.
    pub fn recovery_lookup(&self, event_id: &str) -> Option<(&'static str, String, Vec<String>)> {
        match self {
            Subject::Rest(_) => Some((
                "GET",
                "/api/meetings".into(),
                vec![format!("external_event_id={event_id}")],
            )),
            Subject::Pipedrive(_) => Some((
                "GET",
                "/api/v2/activities".into(),
                vec!["sort_by=update_time".into(), "updated_since=".into()],
            )),
            Subject::HubSpot(_) | Subject::Salesforce(_) => None,
        }
    }

    /// How many requests match (method, path suffix, query fragments).
    pub fn count(&self, method: &str, path: &str, query: &[String]) -> usize {
        let requests = self.requests().into_iter();
        requests
            .filter(|seen| seen.method == method && seen.path.ends_with(path))
            .filter(|seen| query.iter().all(|part| seen.query.contains(part.as_str())))
            .count()
    }

    /// The write requests so far (anything but a read: `GET`, or HubSpot's search and batch
    /// read `POST`s).
    pub fn writes(&self) -> usize {
        let requests = self.requests().into_iter();
        requests
            .filter(|seen| seen.method != "GET" && !seen.path.ends_with("/search"))
            .filter(|seen| !seen.path.ends_with("/batch/read"))
            .count()
    }
}
