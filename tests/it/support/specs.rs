//! Where the vendors' OpenAPI specs are found, for the contract tests. One file shared by the
//! library's unit tests (`src/nylas/client/contract.rs` includes it with `#[path]`) and the
//! integration tests (`support::openapi`), so both look in the same places and skip alike.
//!
//! Order: `CALSYNC_SPECS_DIR` (when set it must hold the file: a variable pointing nowhere is a
//! mistake and fails), else `shared/specs/` beside the checkout (`../shared`, or one level further
//! up from a git worktree). With neither, the contract tests skip and one line on stderr (once per
//! test binary, written past libtest's capture so it shows in a passing run) says how to get the
//! files. `CALSYNC_REQUIRE_SPECS=1` (set by `.ci/run`) turns that skip into a failure, so CI can
//! never pass with the contract tests skipped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// The directory holding the specs (`nylas/`, `hubspot/`, `pipedrive/`).
pub const SPECS_DIR_VARIABLE: &str = "CALSYNC_SPECS_DIR";
/// When `1`, missing specs fail the test instead of skipping it.
pub const REQUIRE_SPECS_VARIABLE: &str = "CALSYNC_REQUIRE_SPECS";

/// The path of the spec `relative` (e.g. `nylas/nylas-api.yaml`), or `None` when no specs are
/// available: the caller skips its contract test (the skip has been announced).
///
/// Panics when `CALSYNC_SPECS_DIR` is set but lacks the file, and when the specs are missing
/// while `CALSYNC_REQUIRE_SPECS=1`.
pub fn spec_file(relative: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(SPECS_DIR_VARIABLE).filter(|dir| !dir.is_empty()) {
        let path = Path::new(&dir).join(relative);
        assert!(
            path.is_file(),
            "{SPECS_DIR_VARIABLE}={} has no {relative}; fetch the specs with `scripts/fetch-specs {}`",
            Path::new(&dir).display(),
            Path::new(&dir).display(),
        );
        return Some(path);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let beside = manifest
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("shared/specs").join(relative))
        .find(|path| path.is_file());
    if beside.is_some() {
        return beside;
    }
    let required = std::env::var(REQUIRE_SPECS_VARIABLE).is_ok_and(|value| value == "1");
    assert!(
        !required,
        "{REQUIRE_SPECS_VARIABLE}=1 but the vendor OpenAPI specs were not found ({relative}: \
         {SPECS_DIR_VARIABLE} is unset and there is no ../shared/specs above {}); \
         get them with `scripts/fetch-specs DIR` and set {SPECS_DIR_VARIABLE}=DIR",
        manifest.display()
    );
    announce_skip();
    None
}

/// One line on the real stderr (not libtest's captured one), once per test binary.
fn announce_skip() {
    static ANNOUNCED: Once = Once::new();
    ANNOUNCED.call_once(|| {
        let line = format!(
            "SKIPPED contract tests: vendor OpenAPI specs not found ({SPECS_DIR_VARIABLE} unset, \
             no ../shared/specs); get them with `scripts/fetch-specs DIR` and rerun with \
             {SPECS_DIR_VARIABLE}=DIR\n"
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    });
}
