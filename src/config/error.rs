//! Configuration errors and warnings.
//!
//! Invariant: every error about a value names its key (`sync.workers`, `unknown key
//! server.lisen`) and, when known, where the value came from ([`Origin`]: the config file or
//! the environment variable). No message ever contains a secret: values of secret keys and the
//! store URL are never echoed, URLs are shown with their credentials hidden, and TOML syntax
//! errors are reported without the offending line.

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

/// One reason the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("config file {} cannot be read", path.display())]
    FileUnreadable {
        /// The file given by `--config` or `CALSYNC_CONFIG`.
        path: PathBuf,
        /// Why: the operating system's reason.
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

    /// A key that calsync does not know.
    #[error("unknown key {key} ({origin}){}", did_you_mean(suggestion.as_deref()))]
    UnknownKey {
        /// The full dotted key, e.g. `server.lisen`.
        key: String,
        /// Where it was set.
        origin: Origin,
        /// The known key (or, for a variable, the variable) it most resembles.
        suggestion: Option<String>,
    },

    /// A value that cannot be used for its key.
    #[error("{key}: {problem} ({origin})")]
    InvalidValue {
        /// The full dotted key, e.g. `sync.retry_initial`.
        key: String,
        /// Where the value came from.
        origin: Origin,
        /// What is wrong, e.g. `invalid duration "1 parsec": unknown time unit "parsec"`.
        problem: String,
    },

    /// A value the configuration (or the command being run) needs is not set.
    #[error("{key} is required{when}; set it in the config file or with {env}")]
    Missing {
        /// The full dotted key, e.g. `crm.base_url`.
        key: String,
        /// The condition that makes it required, e.g. ` when crm.kind = "rest"`, or empty.
        when: String,
        /// The environment variables that can set it.
        env: String,
    },

    /// A key the chosen CRM kind does not use, set in the config file (most likely a mistake
    /// in the kind or the key). The same key from the environment is only a warning.
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

/// `; did you mean X?`, or nothing.
fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |known| format!("; did you mean {known}?"))
}

/// The full message of an error: its own and each cause's, joined by `": "`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Every reason a load failed (at least one), and the warnings it gathered on the way.
#[derive(Debug)]
pub struct ConfigErrors {
    /// The errors, in the order they were found: the file and variable names first, then key by
    /// key.
    pub errors: Vec<ConfigError>,
    /// What would only have been warned about.
    pub warnings: Vec<ConfigWarning>,
}

impl ConfigErrors {
    /// Each error as one line, with its causes.
    pub fn lines(&self) -> Vec<String> {
        self.errors.iter().map(|error| chain(error)).collect()
    }
}

impl fmt::Display for ConfigErrors {
    /// `configuration error: X`, or `N configuration errors:` then one indented line each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.lines().as_slice() {
            [one] => write!(f, "configuration error: {one}"),
            lines => {
                write!(f, "{} configuration errors:", lines.len())?;
                lines.iter().try_for_each(|line| write!(f, "\n  {line}"))
            }
        }
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        ConfigErrors {
            errors: vec![error],
            warnings: Vec::new(),
        }
    }
}

/// Something loading accepted but the operator should know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigWarning {
    /// A key of another CRM kind, set in the environment (shared environments often keep the
    /// variables of another deployment): ignored.
    #[error("{key} is not used when crm.kind = \"{kind}\" ({origin}); it is ignored")]
    UnusedKey {
        /// The full dotted key, e.g. `crm.base_url`.
        key: String,
        /// The configured `crm.kind`.
        kind: String,
        /// The variable that set it.
        origin: Origin,
    },
    /// A `CALSYNC_` variable with single underscores, which calsync does not read.
    #[error(
        "environment variable {var} is ignored: settings are CALSYNC__SECTION__KEY, with double \
         underscores{}",
        did_you_mean(suggestion.as_deref())
    )]
    IgnoredVariable {
        /// The variable's name.
        var: String,
        /// The variable it was most likely meant to be.
        suggestion: Option<String>,
    },
}
