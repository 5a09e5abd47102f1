//! Build script: records the git commit calsync is built from as `CALSYNC_GIT_SHA` (see
//! `src/version.rs`): the `CALSYNC_GIT_SHA` environment variable when set (container builds,
//! where `.git` is not in the context), else `git rev-parse --short HEAD`, else `unknown`.
//! Only characters safe in a label and a log line are kept.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CALSYNC_GIT_SHA");
    let sha = std::env::var("CALSYNC_GIT_SHA")
        .ok()
        .map(|value| clean(&value))
        .filter(|value| !value.is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]).map(|value| clean(&value)))
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=CALSYNC_GIT_SHA={sha}");
    watch_head();
}

/// Keeps hex digits and the few characters of a describe string; at most 40.
fn clean(value: &str) -> String {
    value
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(40)
        .collect()
}

/// The trimmed output of a successful `git` command.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8(output.stdout)
        .ok()
        .map(|text| text.trim().to_owned())
}

/// Re-runs the script when HEAD moves (a commit, a checkout); only existing files are watched,
/// since a missing one would re-run it on every build.
fn watch_head() {
    let mut paths = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        paths.push(git(&["rev-parse", "--git-path", &reference]));
        paths.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    }
    for path in paths.into_iter().flatten() {
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
