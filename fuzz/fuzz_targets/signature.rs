//! Any `X-Nylas-Signature` header, `Content-Encoding` and body: verified only with the right
//! HMAC, bounded after decompression, never a panic. Input layout: one byte choosing the
//! encoding, one byte giving the header length, the header, then the body.
#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use calsync::http::verify::{SIGNATURE_HEADER, sign, verify};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let [encoding, length, rest @ ..] = data else {
        return;
    };
    let (header, body) = rest.split_at(usize::from(*length).min(rest.len()));
    let mut headers = HeaderMap::new();
    let right = sign("fuzz", body);
    // Half the inputs carry the right signature, so decoding is reached too.
    let header = if encoding & 0x80 != 0 {
        right.as_bytes()
    } else {
        header
    };
    let Ok(value) = HeaderValue::from_bytes(header) else {
        return;
    };
    headers.insert(SIGNATURE_HEADER, value);
    let name = ["identity", "gzip", "x-gzip", "br", " GZIP ", ""][usize::from(encoding & 0x7f) % 6];
    headers.insert("content-encoding", HeaderValue::from_static(name));
    let secrets = [SecretString::from("fuzz")];
    if let Ok(verified) = verify(&headers, body, &secrets, LIMIT) {
        let given = std::str::from_utf8(header).expect("a verified header is text");
        assert!(
            given.trim().eq_ignore_ascii_case(&right),
            "verified {given:?}"
        );
        assert!(verified.get().len() <= LIMIT.max(body.len()));
    }
});
