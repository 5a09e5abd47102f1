//! Any body, correctly signed, through the edge's path: verify → parse the envelope →
//! interpret it. A value or a typed error, never a panic; stored work is consistent.
#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use calsync::http::verify::{SIGNATURE_HEADER, parse_envelope, sign, verify};
use calsync::intake::{Interpretation, TriggerKind, interpret, parse_trigger};
use calsync::telemetry::metrics::{KNOWN_TRIGGERS, OTHER_TRIGGER, UNKNOWN_TRIGGER, trigger_label};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

fuzz_target!(|body: &[u8]| {
    let mut headers = HeaderMap::new();
    let signature = HeaderValue::from_str(&sign("fuzz", body)).unwrap();
    headers.insert(SIGNATURE_HEADER, signature);
    let secrets = [SecretString::from("fuzz")];
    let verified = verify(&headers, body, &secrets, 1 << 20).expect("a correctly signed body");
    let Ok(envelope) = parse_envelope(&verified) else {
        return;
    };
    let envelope = envelope.into_inner();
    let label = trigger_label(&envelope.trigger);
    assert!(KNOWN_TRIGGERS.contains(&label) || label == OTHER_TRIGGER || label == UNKNOWN_TRIGGER);
    let kind = parse_trigger(&envelope.trigger).kind;
    match interpret(envelope.clone(), body.to_vec(), jiff::Timestamp::UNIX_EPOCH) {
        Err(_) => {}
        Ok(Interpretation::Ignored) => assert_eq!(kind, TriggerKind::Unhandled),
        Ok(Interpretation::Store(notification)) => {
            assert_ne!(kind, TriggerKind::Unhandled);
            assert_eq!(notification.id.as_str(), envelope.id.as_str());
            assert!(!notification.id.as_str().trim().is_empty());
            if let Some(job) = &notification.job {
                assert_eq!(Some(&job.record_key), notification.event_id.as_ref());
            }
        }
    }
});
