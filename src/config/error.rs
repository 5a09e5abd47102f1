//! Configuration errors.
//!
//! Invariant: every error about a value names its key (`sync.workers`, `unknown key
//! server.lisen`) and, when known, where the value came from ([`Origin`]: the config file or
//! the environment variable). No message ever contains a secret: values of secret keys and the
//! store URL are never echoed, and TOML syntax errors are reported without the offending line.

use std::fmt;
use std::path::PathBuf;

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Not set anywhere: the built-in default.
    Default,
    /// The TOML file at this path.
    File(PathBuf),
    /// The environment variable with this name.
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("built-in default"),
            Origin::File(path) => write!(f, "in config file {}", path.display()),
            Origin::Env(var) => write!(f, "from environment variable {var}"),
        }
    }
}

/// Why the configuration could not be loaded (or a required setting is missing).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("config file {} cannot be read", path.display())]
    FileUnreadable {
        /// The file given by `--config` or `CALSYNC_CONFIG`.
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The config file is not valid TOML. The parser's own message is kept, but not its
    /// rendering of the offending line, which could hold a secret.
    #[error("config file {} is not valid TOML: line {line}, column {column}: {message}", path.display())]
    FileSyntax {
        /// The file given by `--config` or `CALSYNC_CONFIG`.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// What the TOML parser found wrong.
        message: String,
    },

    /// A `CALSYNC__…` variable whose name is not `CALSYNC__SECTION__KEY`.
    #[error("environment variable {var}: {problem}")]
    MalformedEnvVar {
        /// The variable's name.
        var: String,
        /// What is wrong with the name.
        problem: &'static str,
    },

    /// The `config` crate could not merge the layers (calsync's layers are plain tables, so
    /// this is not expected).
    #[error("configuration layers cannot be merged")]
    Layering(#[source] config::ConfigError),

    /// A key that calsync does not know.
    #[error("unknown key {key} ({origin})")]
    UnknownKey {
        /// The full dotted key, e.g. `server.lisen`.
        key: String,
        /// Where it was set.
        origin: Origin,
    },

    /// A value that cannot be used for its key.
    #[error("{key}: {problem} ({origin})")]
    InvalidValue {
        /// The full dotted key, e.g. `sync.retry_initial`.
        key: String,
        /// Where the value came from.
        origin: Origin,
        /// What is wrong, e.g. `invalid duration "1 parsec"`.
        problem: String,
        /// The parser's error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A value the configuration (or the command being run) needs is not set.
    #[error("{key} is required{when}; set it in the config file or with {env}")]
    Missing {
        /// The full dotted key, e.g. `crm.base_url`.
        key: &'static str,
        /// The condition that makes it required, e.g. ` when crm.kind = "rest"`, or empty.
        when: String,
        /// The environment variables that can set it.
        env: String,
    },

    /// A key the chosen CRM kind does not use (most likely a mistake in the kind or the key).
    #[error("{key} is not used when crm.kind = \"{kind}\" ({origin})")]
    UnusedKey {
        /// The full dotted key, e.g. `crm.path`.
        key: String,
        /// The configured `crm.kind`.
        kind: String,
        /// Where the unused key was set.
        origin: Origin,
    },
}

impl ConfigError {
    /// An [`ConfigError::InvalidValue`] without an underlying parser error.
    pub(crate) fn invalid(key: &str, origin: Origin, problem: impl Into<String>) -> Self {
        ConfigError::InvalidValue {
            key: key.to_owned(),
            origin,
            problem: problem.into(),
            source: None,
        }
    }

    /// An [`ConfigError::InvalidValue`] caused by `source`.
    pub(crate) fn invalid_because(
        key: &str,
        origin: Origin,
        problem: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ConfigError::InvalidValue {
            key: key.to_owned(),
            origin,
            problem: problem.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// The environment variables that set `key`: `CALSYNC__SECTION__KEY`, plus an alias if any.
pub(crate) fn env_names(key: &str, alias: Option<&str>) -> String {
    let var = format!("CALSYNC__{}", key.replace('.', "__").to_uppercase());
    match alias {
        Some(alias) => format!("{alias} or {var}"),
        None => var,
    }
}
