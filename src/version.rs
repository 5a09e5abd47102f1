//! What build is running: the crate version and the git commit it was built from (set by
//! `build.rs` from `CALSYNC_GIT_SHA`, else `git rev-parse --short HEAD`, else `unknown`).
//! Shown by `calsync --version`, the start-up log line and `calsync_build_info`.

/// The crate version (`Cargo.toml`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short git commit of the build, or `unknown`.
pub const GIT_SHA: &str = env!("CALSYNC_GIT_SHA");

/// `0.1.0 (git 1a2b3c4)`: what `calsync --version` prints after the name.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("CALSYNC_GIT_SHA"),
    ")"
);
