//! The signature check and body decoding under arbitrary headers and bodies: `verify` accepts a
//! request exactly when its `X-Nylas-Signature` is the HMAC-SHA256 of the body under one of the
//! secrets (hex, any case, surrounding blanks allowed), refuses everything else with a typed
//! error, and never returns more than the decompression limit — never a panic, whatever the
//! header bytes, `Content-Encoding` or (gzip) body.

use std::io::Write;

use axum::http::{HeaderMap, HeaderValue};
use calsync::http::verify::{SIGNATURE_HEADER, VerifyError, sign, verify};
use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use secrecy::SecretString;

use super::config;

const SECRETS: [&str; 2] = ["old-secret", "new-secret-Ω"];
const LIMIT: usize = 4096;

fn secrets() -> Vec<SecretString> {
    SECRETS
        .iter()
        .map(|secret| SecretString::from(*secret))
        .collect()
}

/// A header value: the right signature (maybe recased, padded, truncated, one digit changed),
/// another secret's, or arbitrary bytes.
fn signature_header(body: Vec<u8>) -> impl Strategy<Value = (Vec<u8>, bool)> {
    let right = sign(SECRETS[1], &body);
    let other = sign("not-a-secret", &body);
    prop_oneof![
        2 => Just((right.clone().into_bytes(), true)),
        1 => Just((right.to_uppercase().into_bytes(), true)),
        1 => Just((format!("  {right}\t").into_bytes(), true)),
        1 => (0..64usize).prop_map({
            let right = right.clone();
            move |at| {
                let mut text = right.clone().into_bytes();
                text[at] = if text[at] == b'0' { b'1' } else { b'0' };
                (text, false)
            }
        }),
        1 => (0..64usize).prop_map({
            let right = right.clone();
            move |cut| (right.as_bytes()[..cut].to_vec(), false)
        }),
        1 => Just((format!("sha256={right}").into_bytes(), false)),
        1 => Just((other.into_bytes(), false)),
        2 => prop::collection::vec(any::<u8>(), 0..100).prop_map(|bytes| (bytes, false)),
        1 => "[0-9a-fA-F]{64}".prop_map(|text| (text.into_bytes(), false)),
    ]
}

/// A body: plain bytes, or gzip of bytes (possibly over the limit, possibly truncated).
fn body() -> impl Strategy<Value = (Vec<u8>, Option<String>)> {
    let encoding = prop_oneof![
        Just(None),
        Just(Some("identity".to_owned())),
        Just(Some("gzip".to_owned())),
        Just(Some(" GZIP ".to_owned())),
        Just(Some("x-gzip".to_owned())),
        Just(Some("br".to_owned())),
        Just(Some("gzip, gzip".to_owned())),
        "[ -~]{0,12}".prop_map(Some),
    ];
    let plain = prop::collection::vec(any::<u8>(), 0..256);
    let gzipped = (
        prop::collection::vec(any::<u8>(), 0..64),
        0usize..3 * LIMIT,
        any::<Option<usize>>(),
    )
        .prop_map(|(seed, length, truncate)| {
            let content: Vec<u8> = seed.iter().copied().cycle().take(length).collect();
            let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
            encoder.write_all(&content).unwrap();
            let mut compressed = encoder.finish().unwrap();
            if let Some(cut) = truncate {
                compressed.truncate(cut % (compressed.len() + 1));
            }
            compressed
        });
    (prop_oneof![plain, gzipped], encoding)
}

fn case() -> impl Strategy<Value = (Vec<u8>, Option<String>, Vec<u8>, bool)> {
    body().prop_flat_map(|(body, encoding)| {
        signature_header(body.clone())
            .prop_map(move |(header, expected)| (body.clone(), encoding.clone(), header, expected))
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn only_the_right_signature_verifies_and_bodies_stay_bounded(
        (body, encoding, header, signed_right) in case(),
    ) {
        let mut headers = HeaderMap::new();
        let Ok(value) = HeaderValue::from_bytes(&header) else {
            // Not a header value an HTTP server would hand over.
            return Ok(());
        };
        headers.insert(SIGNATURE_HEADER, value);
        if let Some(encoding) = &encoding
            && let Ok(value) = HeaderValue::from_str(encoding) {
                headers.insert("content-encoding", value);
            }
        match verify(&headers, &body, &secrets(), LIMIT) {
            Ok(verified) => {
                prop_assert!(signed_right, "a wrong signature verified: {:?}", String::from_utf8_lossy(&header));
                prop_assert!(verified.get().len() <= LIMIT.max(body.len()));
            }
            Err(VerifyError::BadSignature | VerifyError::MalformedSignature) => {
                prop_assert!(!signed_right, "the right signature was refused: {:?}", String::from_utf8_lossy(&header));
            }
            Err(VerifyError::UnsupportedEncoding(_) | VerifyError::Decompress(_) | VerifyError::TooLarge { .. }) => {
                // Only after the signature checked out.
                prop_assert!(signed_right);
            }
            Err(error) => prop_assert!(false, "unexpected {error}"),
        }
    }

    #[test]
    fn no_secret_configured_verifies_nothing(header in prop::collection::vec(any::<u8>(), 0..80), body in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_bytes(&header) {
            headers.insert(SIGNATURE_HEADER, value);
        }
        prop_assert!(matches!(verify(&headers, &body, &[], LIMIT), Err(VerifyError::NoSecretConfigured)));
    }
}
