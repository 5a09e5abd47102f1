//! `log.level`: the `EnvFilter` directive that decides which log lines are written.
//!
//! It lives with the configuration (which validates it at start-up) and is read by telemetry
//! (which installs it), so that telemetry depends on configuration and never the reverse.
//!
//! Invariant: a directive accepted here is accepted by [`env_filter`] when logging starts.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, ParseError};

/// What is wrong with a level directive.
#[derive(Debug, thiserror::Error)]
pub enum LevelError {
    /// The directive is empty: nothing would be logged, not even errors.
    #[error("the directive is empty; use \"off\" to disable logging")]
    Empty,
    /// A bare word that is not a level: `EnvFilter` would read it as a target name, which is
    /// almost always a misspelt level.
    #[error(
        "{0:?} is not a level (off, error, warn, info, debug, trace); write target=level to set \
         the level of one target"
    )]
    NotALevel(String),
    /// `EnvFilter` rejected the directive.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Parses `level` (e.g. `info`, `info,calsync=debug,sqlx=warn`) into a filter.
pub fn env_filter(level: &str) -> Result<EnvFilter, LevelError> {
    let directives: Vec<&str> = level
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .collect();
    if directives.is_empty() {
        return Err(LevelError::Empty);
    }
    for directive in &directives {
        let bare = !directive.contains(['=', '[', '{']);
        if bare && directive.parse::<LevelFilter>().is_err() {
            return Err(LevelError::NotALevel((*directive).to_owned()));
        }
    }
    Ok(EnvFilter::builder().parse(directives.join(","))?)
}
