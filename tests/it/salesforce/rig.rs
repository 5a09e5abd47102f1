//! The shared rig of the adapter tests: settings pointing at a fake org, the adapter with its
//! transport and metrics, and a meeting record.

use std::sync::Arc;
use std::time::Duration;

use calsync::config::{ContactLinking, SalesforceCrmSettings};
use calsync::crm::CrmError;
use calsync::crm::salesforce::SalesforceAdapter;
use calsync::crm::transport::CrmTransport;
use calsync::record::{Attendee, MeetingRecord, MeetingStatus, RsvpStatus};
use calsync::retry::Retry;
use calsync::telemetry::metrics::Metrics;
use secrecy::SecretString;
use url::Url;

use crate::support::fake_salesforce::{
    CLIENT_ID, CLIENT_SECRET, EXTERNAL_ID_FIELD, FakeSalesforce,
};

pub fn settings(org: &FakeSalesforce) -> SalesforceCrmSettings {
    let instance: Url = org.instance_url().parse().unwrap();
    SalesforceCrmSettings {
        token_url: instance.join("/services/oauth2/token").unwrap(),
        instance_url: instance,
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        api_version: "v62.0".into(),
        external_id_field: EXTERNAL_ID_FIELD.into(),
        timeout: Duration::from_secs(10),
        contacts: ContactLinking {
            link_contacts: true,
            create_missing_contacts: false,
        },
        owner: Default::default(),
        default_owner: None,
        // The adapter tests drive the single requests; batches have their own tests.
        batch_size: 1,
        batch_linger: Duration::from_millis(25),
    }
}

pub struct Rig {
    pub adapter: Arc<SalesforceAdapter>,
    pub transport: CrmTransport,
    pub metrics: Arc<Metrics>,
}

pub fn rig(settings: &SalesforceCrmSettings) -> Rig {
    let metrics = Arc::new(Metrics::new());
    let transport = CrmTransport::new(
        calsync::outbound::client().unwrap(),
        "salesforce",
        0,
        metrics.clone(),
    );
    let internal = vec!["seller.com".to_owned()];
    Rig {
        adapter: SalesforceAdapter::shared(settings, &internal, transport.clone()),
        transport,
        metrics,
    }
}

pub fn record(id: &str, emails: &[&str]) -> MeetingRecord {
    MeetingRecord {
        event_id: id.into(),
        grant_id: "grant-1".into(),
        provider_calendar_id: None,
        meeting_subject: "Demo".into(),
        meeting_status: MeetingStatus::Confirmed,
        meeting_date: "2026-07-01T10:00:00Z".parse().unwrap(),
        meeting_end_date: "2026-07-01T10:45:00Z".parse().unwrap(),
        duration_minutes: 45,
        all_day: false,
        timezone: None,
        meeting_location: None,
        meeting_link: None,
        notes: None,
        organizer_email: Some("rep@seller.com".into()),
        attendees: emails
            .iter()
            .map(|email| Attendee {
                email: (*email).into(),
                name: None,
                rsvp_status: RsvpStatus::Yes,
            })
            .collect(),
        is_recurring: false,
        master_event_id: None,
        series_label: None,
        ical_uid: None,
        source_updated_at: None,
        private: false,
        owner_email: None,
    }
}

pub fn status_of(error: &CrmError) -> (u16, String, Retry) {
    match error {
        CrmError::Status {
            status,
            message,
            retry,
            ..
        } => (*status, message.clone(), *retry),
        other => panic!("expected a status error, got {other:?}"),
    }
}
