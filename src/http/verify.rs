//! Webhook authentication: raw bytes in, [`Verified`] values out.
//!
//! The signature is checked over the exact bytes received (compressed bytes when the body is
//! gzip), before anything parses or decompresses them; a value of type [`Verified<T>`] can only
//! be made here, so code holding one knows it came from Nylas. Comparison is constant-time (the
//! MAC's own `verify_slice`), against every configured secret, so an operator can roll secrets.

use std::io::Read;

use axum::http::HeaderMap;
use flate2::read::GzDecoder;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::nylas::Envelope;

/// The signature header (looked up case-insensitively by `HeaderMap`).
pub const SIGNATURE_HEADER: &str = "x-nylas-signature";

/// A value derived from a request whose signature checked out.
#[derive(Debug, Clone)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    /// The verified value.
    pub fn get(&self) -> &T {
        &self.0
    }

    /// Takes the verified value out.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Why a request was not accepted as authentic and readable.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No secret is configured, so nothing can be verified.
    #[error("no webhook secret is configured")]
    NoSecretConfigured,
    /// The request has no `X-Nylas-Signature` header.
    #[error("the X-Nylas-Signature header is missing")]
    MissingSignature,
    /// The signature header is not 64 hex characters.
    #[error("the X-Nylas-Signature header is not 64 hex characters")]
    MalformedSignature,
    /// The signature matches no configured secret.
    #[error("the X-Nylas-Signature does not match any configured secret")]
    BadSignature,
    /// The body's `Content-Encoding` (as sent) is not one calsync reads.
    #[error("unsupported Content-Encoding {0:?}")]
    UnsupportedEncoding(String),
    /// The gzip body does not decompress.
    #[error("the gzip body cannot be decompressed")]
    Decompress(#[source] std::io::Error),
    /// The decompressed body is larger than the limit.
    #[error("the decompressed body exceeds {limit} bytes")]
    TooLarge {
        /// `server.max_body_bytes`.
        limit: usize,
    },
}

/// Checks the signature of `body` against every secret; returns the body's JSON bytes
/// (decompressed when `Content-Encoding: gzip`, bounded by `max_decompressed` bytes).
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[SecretString],
    max_decompressed: usize,
) -> Result<Verified<Vec<u8>>, VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecretConfigured);
    }
    let signature = headers
        .get(SIGNATURE_HEADER)
        .ok_or(VerifyError::MissingSignature)?;
    let signature = signature
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|text| text.len() == 64)
        .and_then(|text| hex::decode(text).ok())
        .ok_or(VerifyError::MalformedSignature)?;
    let authentic = secrets.iter().any(|secret| {
        Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .map(|mut mac| {
                mac.update(body);
                mac.verify_slice(&signature).is_ok()
            })
            .unwrap_or(false)
    });
    if !authentic {
        return Err(VerifyError::BadSignature);
    }
    decode_body(headers, body, max_decompressed).map(Verified)
}

/// Parses verified JSON bytes as a notification envelope.
pub fn parse_envelope(body: &Verified<Vec<u8>>) -> Result<Verified<Envelope>, serde_json::Error> {
    serde_json::from_slice(&body.0).map(Verified)
}

/// Decompresses a gzip body (bounded), or returns an identity body as is.
fn decode_body(headers: &HeaderMap, body: &[u8], limit: usize) -> Result<Vec<u8>, VerifyError> {
    let encoding = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(body.to_vec()),
        Some("gzip") | Some("x-gzip") => {
            let mut decompressed = Vec::new();
            // Read one byte past the limit to tell "exactly at the limit" from "over it".
            GzDecoder::new(body)
                .take(limit as u64 + 1)
                .read_to_end(&mut decompressed)
                .map_err(VerifyError::Decompress)?;
            if decompressed.len() > limit {
                return Err(VerifyError::TooLarge { limit });
            }
            Ok(decompressed)
        }
        Some(other) => Err(VerifyError::UnsupportedEncoding(other.to_string())),
    }
}

/// Lowercase hex HMAC-SHA256 of `body` with `secret` (what Nylas sends; used by tests and tools).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    /// The Nylas Java SDK's test vector (nylas.md).
    const SDK_SECRET: &str = "UfZWFrkjsbg5bxLbax-y";
    const SDK_BODY: &str = r#"{"specversion":"1.0","type":"grant.deleted","source":"/nylas/system","id":"Kkx2QQB7TWjWM3KXRQQn562394","time":1717162394,"webhook_delivery_attempt":1,"data":{"application_id":"a7966b5a-9bc2-44b7-9895-4e2b281ce6be","object":{"code":25013,"grant_id":"4c22c3c5-d163-48b6-ad95-45fedc879683","integration_id":"b7dd6e6e-af6a-463b-92fa-be35c2683f5c","metric":1934,"provider":"google"}}}"#;
    const SDK_SIGNATURE: &str = "a4534f7e68dcd54f0621f7539ddd5a0d14a9a46ace9b68a4cfd9c99b4b6b89cc";

    fn secrets(values: &[&str]) -> Vec<SecretString> {
        values
            .iter()
            .map(|value| SecretString::from(*value))
            .collect()
    }

    fn signed(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "X-Nylas-Signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    #[test]
    fn the_sdk_test_vector_verifies() {
        assert_eq!(sign(SDK_SECRET, SDK_BODY.as_bytes()), SDK_SIGNATURE);
        let verified = verify(
            &signed(SDK_SIGNATURE),
            SDK_BODY.as_bytes(),
            &secrets(&[SDK_SECRET]),
            1 << 20,
        )
        .unwrap();
        let envelope = parse_envelope(&verified).unwrap();
        assert_eq!(envelope.get().id, "Kkx2QQB7TWjWM3KXRQQn562394");
        assert_eq!(envelope.get().trigger, "grant.deleted");
    }

    #[test]
    fn any_configured_secret_verifies() {
        let body = br#"{"id":"n"}"#;
        let headers = signed(&sign("new-secret", body));
        assert!(
            verify(
                &headers,
                body,
                &secrets(&["old-secret", "new-secret"]),
                1024
            )
            .is_ok()
        );
        assert!(matches!(
            verify(&headers, body, &secrets(&["old-secret"]), 1024),
            Err(VerifyError::BadSignature)
        ));
    }

    #[test]
    fn missing_malformed_and_unconfigured_are_distinguished() {
        let body = b"{}";
        let keys = secrets(&["s"]);
        assert!(matches!(
            verify(&HeaderMap::new(), body, &keys, 1024),
            Err(VerifyError::MissingSignature)
        ));
        assert!(matches!(
            verify(&signed("zz"), body, &keys, 1024),
            Err(VerifyError::MalformedSignature)
        ));
        assert!(matches!(
            verify(&signed(&"g".repeat(64)), body, &keys, 1024),
            Err(VerifyError::MalformedSignature)
        ));
        assert!(matches!(
            verify(&signed(&sign("s", body)), body, &[], 1024),
            Err(VerifyError::NoSecretConfigured)
        ));
        // A signature over other bytes (e.g. re-serialised JSON) does not verify.
        assert!(matches!(
            verify(&signed(&sign("s", b"{ }")), body, &keys, 1024),
            Err(VerifyError::BadSignature)
        ));
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_is_verified_compressed_then_decompressed_within_bounds() {
        let compressed = gzip(SDK_BODY.as_bytes());
        let mut headers = signed(&sign(SDK_SECRET, &compressed));
        headers.insert("content-encoding", HeaderValue::from_static("gzip"));
        let keys = secrets(&[SDK_SECRET]);
        let verified = verify(&headers, &compressed, &keys, 1 << 20).unwrap();
        assert_eq!(verified.get().as_slice(), SDK_BODY.as_bytes());

        // Signed over the decompressed bytes instead: rejected.
        let mut wrong = signed(SDK_SIGNATURE);
        wrong.insert("content-encoding", HeaderValue::from_static("gzip"));
        assert!(matches!(
            verify(&wrong, &compressed, &keys, 1 << 20),
            Err(VerifyError::BadSignature)
        ));

        // A small bomb: 1 MiB of zeros, limit 64 KiB.
        let bomb = gzip(&vec![0u8; 1 << 20]);
        let mut headers = signed(&sign(SDK_SECRET, &bomb));
        headers.insert("content-encoding", HeaderValue::from_static("gzip"));
        assert!(matches!(
            verify(&headers, &bomb, &keys, 64 * 1024),
            Err(VerifyError::TooLarge { limit: 65536 })
        ));

        let garbage = b"not gzip at all";
        let mut headers = signed(&sign(SDK_SECRET, garbage));
        headers.insert("content-encoding", HeaderValue::from_static("gzip"));
        assert!(matches!(
            verify(&headers, garbage, &keys, 1024),
            Err(VerifyError::Decompress(_))
        ));
    }
}
