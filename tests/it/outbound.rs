//! Outbound HTTP is strict (issue 14, item 1): no adapter and not the Nylas client follows a
//! redirect — a 3xx is an error naming the `Location`, permanent for a write, and the place it
//! pointed to receives nothing — and answers are read with a cap, so a streamed 1 GiB answer
//! leaves the real binary's memory flat.

mod clock;
mod memory;

use std::collections::HashMap;
use std::sync::Arc;

use calsync::config::{self, LoadOptions, Settings};
use calsync::crm::transport::CrmTransport;
use calsync::crm::{self, CrmAdapter, CrmError, ExistingRecord};
use calsync::nylas::client::NewSubscription;
use calsync::nylas::{NylasClient, NylasError};
use calsync::retry::Retry;
use calsync::telemetry::metrics::Metrics;
use serde_json::json;

use crate::salesforce::rig::record;
use crate::support::hostile::{Hostile, Hostility, Seen};

/// Settings for `kind` with its endpoint at `base` (Nylas at `nylas`). `hubspot-batched` is
/// HubSpot with batch writes; `hubspot` writes each meeting with its own requests.
fn settings(kind: &str, base: &str, nylas: &str) -> Settings {
    let (kind, batch_size) = match kind {
        "hubspot-batched" => ("hubspot", "100"),
        other => (other, "1"),
    };
    let mut env: HashMap<String, String> = [
        ("NYLAS_API_KEY", "nyk_hostile"),
        ("NYLAS_API_URI", nylas),
        ("NYLAS_WEBHOOK_SECRET", "whsec_hostile"),
        ("CALSYNC__CRM__KIND", kind),
        ("CRM_API_KEY", "crm-key-hostile"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    if kind == "hubspot" {
        env.insert("CALSYNC__CRM__BATCH_SIZE".into(), batch_size.into());
    }
    match kind {
        "salesforce" => {
            env.insert("CALSYNC__CRM__INSTANCE_URL".into(), base.into());
            env.insert("CALSYNC__CRM__CLIENT_ID".into(), "client-id".into());
        }
        _ => {
            env.insert("CALSYNC__CRM__BASE_URL".into(), base.into());
        }
    }
    config::load(&LoadOptions {
        config_path: None,
        env,
        ..LoadOptions::default()
    })
    .expect("settings load")
}

/// The adapter of `kind` writing to `base`, with the client `serve` uses.
fn adapter(kind: &str, base: &str) -> Arc<dyn CrmAdapter> {
    let settings = settings(kind, base, "http://127.0.0.1:9");
    let http = calsync::app::http_client().unwrap();
    let transport = CrmTransport::new(http, settings.crm.kind(), 0, Arc::new(Metrics::new()));
    crm::build(&settings, transport).expect("adapter builds")
}

/// The well-behaved host a redirect points to; it must never hear from calsync.
async fn elsewhere() -> Hostile {
    Hostile::start(Hostility::Plain {
        status: 201,
        body: json!({"id": "stolen", "data": {"id": 1}, "created": true}),
    })
    .await
}

/// A 301 to the same host (`/…/`, the trap that turned a POST into a GET), 302 and 307 to
/// another host.
async fn redirecting(status: u16, elsewhere: &Hostile) -> (Hostile, String) {
    let location = match status {
        301 => "/api/meetings/".to_owned(),
        _ => format!("{}/collect", elsewhere.base_url()),
    };
    let hostile = Hostile::start(Hostility::Redirect {
        status,
        location: location.clone(),
    })
    .await;
    let shown = match status {
        301 => format!("{}/api/meetings/", hostile.base_url()),
        _ => location,
    };
    (hostile, shown)
}

fn assert_redirected(error: &CrmError, status: u16, location: &str, context: &str) {
    assert!(
        matches!(error, CrmError::Redirected { .. }),
        "{context}: {error:?}"
    );
    assert_eq!(error.retry(), Retry::Permanent, "{context}");
    let text = error.to_string();
    assert!(
        text.contains(&format!("HTTP {status} redirecting to {location}")),
        "{context}: {text}"
    );
}

/// One request reached the redirecting host, with the write's method; none went anywhere else.
fn assert_not_followed(hostile: &Hostile, elsewhere: &Hostile, method: &str, context: &str) {
    let seen = hostile.seen();
    assert_eq!(seen.len(), 1, "{context}: {seen:?}");
    assert_eq!(seen[0].method, method, "{context}");
    assert_eq!(elsewhere.seen(), Vec::<Seen>::new(), "{context}");
}

#[tokio::test]
async fn no_adapter_follows_a_redirect_and_writes_are_never_successes() {
    let writes = [
        ("rest", "POST", "PUT"),
        ("hubspot", "POST", "PATCH"),
        ("pipedrive", "POST", "PATCH"),
        ("salesforce", "PATCH", "PATCH"),
    ];
    for (kind, create, update) in writes {
        for status in [301, 302, 307] {
            let context = format!("{kind} {status}");
            let elsewhere = elsewhere().await;

            let (hostile, location) = redirecting(status, &elsewhere).await;
            let error = adapter(kind, &hostile.base_url())
                .upsert(&record("evt-1", &[]), ExistingRecord::None)
                .await
                .unwrap_err();
            assert_redirected(&error, status, &location, &format!("{context} create"));
            assert_not_followed(&hostile, &elsewhere, create, &context);

            let (hostile, location) = redirecting(status, &elsewhere).await;
            let error = adapter(kind, &hostile.base_url())
                .upsert(&record("evt-1", &[]), ExistingRecord::Known(&"42".into()))
                .await
                .unwrap_err();
            assert_redirected(&error, status, &location, &format!("{context} update"));
            assert_not_followed(&hostile, &elsewhere, update, &context);

            let (hostile, location) = redirecting(status, &elsewhere).await;
            let error = adapter(kind, &hostile.base_url())
                .soft_delete(&"evt-1".into(), &"42".into())
                .await
                .unwrap_err();
            assert_redirected(&error, status, &location, &format!("{context} delete"));
            assert_not_followed(&hostile, &elsewhere, "DELETE", &context);
        }
    }
}

#[tokio::test]
async fn batched_hubspot_writes_follow_no_redirect() {
    for status in [301, 302, 307] {
        let context = format!("hubspot batched {status}");
        let elsewhere = elsewhere().await;
        // A batched upsert first reads the event id property's definition: a redirected read,
        // retried, and no write is sent.
        let (hostile, location) = redirecting(status, &elsewhere).await;
        let error = adapter("hubspot-batched", &hostile.base_url())
            .upsert(&record("evt-1", &[]), ExistingRecord::None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, CrmError::Redirected { .. }),
            "{context}: {error:?}"
        );
        assert_eq!(error.retry(), Retry::After(None), "{context}");
        assert!(error.to_string().contains(&location), "{context}: {error}");
        assert_not_followed(&hostile, &elsewhere, "GET", &context);

        let (hostile, location) = redirecting(status, &elsewhere).await;
        let error = adapter("hubspot-batched", &hostile.base_url())
            .soft_delete(&"evt-1".into(), &"42".into())
            .await
            .unwrap_err();
        assert_redirected(&error, status, &location, &format!("{context} archive"));
        assert_not_followed(&hostile, &elsewhere, "POST", &context);
    }
}

#[tokio::test]
async fn a_redirected_read_is_retried_not_followed() {
    let elsewhere = elsewhere().await;
    let (hostile, location) = redirecting(307, &elsewhere).await;
    // An uncertain create looks the record up first (GET): a read.
    let error = adapter("rest", &hostile.base_url())
        .upsert(&record("evt-1", &[]), ExistingRecord::Uncertain)
        .await
        .unwrap_err();
    assert!(matches!(error, CrmError::Redirected { .. }), "{error:?}");
    assert_eq!(error.retry(), Retry::After(None));
    assert!(error.to_string().contains(&location), "{error}");
    assert_not_followed(&hostile, &elsewhere, "GET", "rest lookup");
}

#[tokio::test]
async fn the_nylas_client_follows_no_redirect() {
    for status in [301, 302, 307] {
        let elsewhere = elsewhere().await;
        let (hostile, location) = redirecting(status, &elsewhere).await;
        let settings = settings("rest", "http://127.0.0.1:9", &hostile.base_url());
        let nylas = NylasClient::new(&settings.nylas, calsync::app::http_client().unwrap());

        let error = nylas
            .get_event("grant-1", "evt-1", "primary")
            .await
            .unwrap_err();
        assert!(matches!(error, NylasError::Redirected { .. }), "{error:?}");
        assert_eq!(error.retry(), Retry::After(None), "a read: {status}");
        let text = error.to_string();
        assert!(
            text.contains(&format!("HTTP {status} redirecting to {location}")),
            "{text}"
        );

        let webhook = NewSubscription {
            trigger_types: vec!["event.created".into()],
            webhook_url: "https://calsync.example.com/webhooks/nylas".into(),
            description: None,
            notification_email_addresses: Vec::new(),
        };
        let error = nylas.create_subscription(&webhook).await.unwrap_err();
        assert!(matches!(error, NylasError::Redirected { .. }), "{error:?}");
        assert_eq!(error.retry(), Retry::Permanent, "a write: {status}");

        let methods: Vec<String> = hostile.seen().into_iter().map(|s| s.method).collect();
        assert_eq!(methods, ["GET", "POST"], "{status}");
        assert!(elsewhere.seen().is_empty(), "{status}");
    }
}
