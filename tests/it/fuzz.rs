//! Fuzzing (issue 14, item 6) with `proptest`, beside the `cargo fuzz` targets in `fuzz/` (which
//! need an instrumented build too long for CI; see the README's "Fuzzing"). Each target feeds
//! arbitrary, structure-aware input to a parser that faces the network and asserts it answers
//! with a value or a typed error — never a panic — plus the properties that make the answer
//! right:
//! - `signature`: the `X-Nylas-Signature` header and body decoding (`http::verify::verify`);
//! - `envelope`: the envelope parser and its interpretation into store work;
//! - `mapping`: any JSON object → `Event` → meeting record or `MappingError`.
//!
//! The configuration loader's target lives with the loader (`src/config/tests/arbitrary.rs`).
//! Cases per target: `PROPTEST_CASES` (default 256). `.ci/run` runs a smoke pass; a longer
//! search: `PROPTEST_CASES=200000 cargo test --release --test it fuzz::`. A failure is saved
//! under `proptest-regressions/` and replayed first on every later run; keep it there and add
//! a named regression test beside the target.

mod envelope;
mod json;
mod mapping;
mod signature;

use proptest::test_runner::Config;

/// `PROPTEST_CASES` when set, else `default`.
pub fn config(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        ..Config::default()
    }
}
