//! The CRM kinds: `kind` picks the struct, the `CRM_API_KEY` alias is every kind's credential,
//! each kind requires its own keys and checks its values.

use super::{CRM_URL, chain, env_error, load_from};
use crate::config::CrmSettings;

const BASE: (&str, &str) = ("CALSYNC__CRM__BASE_URL", CRM_URL);

fn env_message(vars: &[(&str, &str)]) -> String {
    let mut all = vars.to_vec();
    all.push(BASE);
    chain(&env_error(&all))
}

#[test]
fn crm_kind_names_the_variant() {
    let rest = load_from(None, &[("CALSYNC__CRM__BASE_URL", CRM_URL)]).unwrap();
    assert_eq!(rest.crm.kind(), "rest");
    let jsonl = load_from(
        None,
        &[
            ("CALSYNC__CRM__KIND", "jsonl"),
            ("CALSYNC__CRM__PATH", "out.jsonl"),
        ],
    )
    .unwrap();
    assert_eq!(jsonl.crm.kind(), "jsonl");
}

#[test]
fn the_crm_key_alias_is_the_credential_of_every_kind() {
    use secrecy::ExposeSecret;
    let hubspot = load_from(
        None,
        &[("CALSYNC__CRM__KIND", "hubspot"), ("CRM_API_KEY", "pat-1")],
    )
    .unwrap();
    match hubspot.crm {
        CrmSettings::HubSpot(settings) => {
            assert_eq!(settings.token.expose_secret(), "pat-1");
            assert_eq!(settings.base_url.as_str(), "https://api.hubapi.com/");
            assert_eq!(settings.event_id_property, "calsync_event_id");
            assert!(settings.contacts.link_contacts);
            assert!(!settings.contacts.create_missing_contacts);
        }
        other => panic!("expected hubspot, got {other:?}"),
    }
    let pipedrive = load_from(
        None,
        &[
            ("CALSYNC__CRM__KIND", "pipedrive"),
            ("CALSYNC__CRM__COMPANY_DOMAIN", "acme"),
            ("CRM_API_KEY", "alias-token"),
            ("CALSYNC__CRM__API_TOKEN", "own-token"),
        ],
    )
    .unwrap();
    match pipedrive.crm {
        CrmSettings::Pipedrive(settings) => {
            assert_eq!(settings.api_token.expose_secret(), "own-token");
            assert_eq!(settings.base_url.as_str(), "https://acme.pipedrive.com/");
        }
        other => panic!("expected pipedrive, got {other:?}"),
    }
    let salesforce = load_from(
        None,
        &[
            ("CALSYNC__CRM__KIND", "salesforce"),
            (
                "CALSYNC__CRM__INSTANCE_URL",
                "https://acme.my.salesforce.com",
            ),
            ("CALSYNC__CRM__CLIENT_ID", "3MVG9"),
            ("CRM_API_KEY", "secret"),
        ],
    )
    .unwrap();
    match salesforce.crm {
        CrmSettings::Salesforce(settings) => {
            assert_eq!(settings.client_secret.expose_secret(), "secret");
            assert_eq!(
                settings.token_url.as_str(),
                "https://acme.my.salesforce.com/services/oauth2/token"
            );
            assert_eq!(settings.api_version, "v62.0");
            assert_eq!(settings.external_id_field, "Calsync_Event_Id__c");
        }
        other => panic!("expected salesforce, got {other:?}"),
    }
}

#[test]
fn crm_kinds_require_their_credentials_and_check_their_values() {
    assert_eq!(
        env_message(&[("CALSYNC__CRM__KIND", "hubspot")]),
        "crm.token is required when crm.kind = \"hubspot\"; set it in the config file or with \
         CALSYNC__CRM__TOKEN or CRM_API_KEY"
    );
    // (The helper always sets crm.base_url.)
    let message = env_message(&[
        ("CALSYNC__CRM__KIND", "pipedrive"),
        ("CALSYNC__CRM__API_TOKEN", "t"),
        ("CALSYNC__CRM__COMPANY_DOMAIN", "acme"),
    ]);
    assert!(
        message.starts_with("crm.company_domain: set either crm.company_domain or crm.base_url"),
        "{message}"
    );
    let message = chain(&env_error(&[
        ("CALSYNC__CRM__KIND", "pipedrive"),
        ("CALSYNC__CRM__API_TOKEN", "t"),
    ]));
    assert_eq!(
        message,
        "crm.company_domain is required when crm.kind = \"pipedrive\" (or set crm.base_url); \
         set it in the config file or with CALSYNC__CRM__COMPANY_DOMAIN"
    );
    let message = chain(&env_error(&[
        ("CALSYNC__CRM__KIND", "pipedrive"),
        ("CALSYNC__CRM__API_TOKEN", "t"),
        ("CALSYNC__CRM__COMPANY_DOMAIN", "ac me"),
    ]));
    assert!(
        message.starts_with("crm.company_domain: invalid company domain \"ac me\""),
        "{message}"
    );
    let message = chain(&env_error(&[
        ("CALSYNC__CRM__KIND", "salesforce"),
        (
            "CALSYNC__CRM__INSTANCE_URL",
            "https://acme.my.salesforce.com",
        ),
        ("CALSYNC__CRM__CLIENT_ID", "id"),
        ("CALSYNC__CRM__CLIENT_SECRET", "s"),
        ("CALSYNC__CRM__API_VERSION", "62"),
    ]));
    assert!(
        message.starts_with("crm.api_version: invalid value \"62\""),
        "{message}"
    );
    let message = chain(&env_error(&[
        ("CALSYNC__CRM__KIND", "hubspot"),
        ("CALSYNC__CRM__TOKEN", "t"),
        ("CALSYNC__CRM__LINK_CONTACTS", "maybe"),
    ]));
    assert_eq!(
        message,
        "crm.link_contacts: invalid boolean \"maybe\", expected true or false \
         (from environment variable CALSYNC__CRM__LINK_CONTACTS)"
    );
}

#[test]
fn the_batch_size_is_bounded_by_each_kinds_maximum() {
    let hubspot = [("CALSYNC__CRM__KIND", "hubspot"), ("CRM_API_KEY", "pat-1")];
    let salesforce = [
        ("CALSYNC__CRM__KIND", "salesforce"),
        (
            "CALSYNC__CRM__INSTANCE_URL",
            "https://acme.my.salesforce.com",
        ),
        ("CALSYNC__CRM__CLIENT_ID", "id"),
        ("CRM_API_KEY", "s"),
    ];
    let with = |vars: &[(&'static str, &'static str)], size: &'static str| {
        let mut all = vars.to_vec();
        all.push(("CALSYNC__CRM__BATCH_SIZE", size));
        all
    };
    let size = |vars: &[(&str, &str)]| match load_from(None, vars).unwrap().crm {
        CrmSettings::HubSpot(hubspot) => hubspot.batch_size,
        CrmSettings::Salesforce(salesforce) => salesforce.batch_size,
        other => panic!("unexpected kind {other:?}"),
    };
    assert_eq!(size(&hubspot), 100);
    assert_eq!(size(&salesforce), 200);
    assert_eq!(size(&with(&hubspot, "100")), 100);
    assert_eq!(size(&with(&salesforce, "200")), 200);
    let message = env_message(&with(&hubspot, "150"));
    assert!(message.contains("crm.batch_size"), "{message}");
    assert!(message.contains("must be at most 100"), "{message}");
    let message = env_message(&with(&salesforce, "201"));
    assert!(message.contains("must be at most 200"), "{message}");
    assert!(env_message(&with(&salesforce, "0")).contains("must be at least 1"));
}

#[test]
fn the_batch_linger_defaults_to_two_seconds_and_is_at_most_half_the_lease() {
    use crate::config::CrmSettings;
    use std::time::Duration;
    let hubspot = |value: Option<&str>| {
        let mut env = vec![("CALSYNC__CRM__KIND", "hubspot"), ("CRM_API_KEY", "pat-1")];
        env.extend(value.map(|value| ("CALSYNC__CRM__BATCH_LINGER", value)));
        load_from(None, &env)
    };
    let linger = |settings: crate::config::Settings| match settings.crm {
        CrmSettings::HubSpot(hubspot) => hubspot.batch_linger,
        other => panic!("not hubspot: {}", other.kind()),
    };
    assert_eq!(linger(hubspot(None).unwrap()), Duration::from_secs(2));
    assert_eq!(linger(hubspot(Some("0s")).unwrap()), Duration::ZERO);
    assert_eq!(
        linger(hubspot(Some("30s")).unwrap()),
        Duration::from_secs(30)
    );
    let message = env_message(&[
        ("CALSYNC__CRM__KIND", "hubspot"),
        ("CRM_API_KEY", "pat-1"),
        ("CALSYNC__CRM__BATCH_LINGER", "31s"),
    ]);
    assert!(message.contains("crm.batch_linger"), "{message}");
    assert!(
        message.contains("longer than half of sync.lease (1m"),
        "{message}"
    );
    let message = env_message(&[
        ("CALSYNC__CRM__KIND", "hubspot"),
        ("CRM_API_KEY", "pat-1"),
        ("CALSYNC__SYNC__LEASE", "2s"),
        ("CALSYNC__CRM__BATCH_LINGER", "2s"),
    ]);
    assert!(message.contains("crm.batch_linger"), "{message}");
    let short_lease_by_default = [
        ("CALSYNC__CRM__KIND", "hubspot"),
        ("CRM_API_KEY", "pat-1"),
        ("CALSYNC__SYNC__LEASE", "2s"),
    ];
    let settings = load_from(None, &short_lease_by_default).unwrap();
    assert_eq!(
        linger(settings),
        Duration::from_secs(1),
        "the default fits the lease"
    );
    let short_lease = [
        ("CALSYNC__CRM__KIND", "hubspot"),
        ("CRM_API_KEY", "pat-1"),
        ("CALSYNC__SYNC__LEASE", "2s"),
        ("CALSYNC__CRM__BATCH_LINGER", "1s"),
    ];
    assert_eq!(
        linger(load_from(None, &short_lease).unwrap()),
        Duration::from_secs(1)
    );
}
