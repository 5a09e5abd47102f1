//! Parsing of single values: each function takes the key, the raw text (absent when no layer set
//! it) and the default, and returns the typed value or an error naming the key and its origin.
//!
//! Invariant: a value is echoed in an error only when it cannot be a secret; secrets and the
//! store URL are never echoed.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::error::{ConfigError, Origin, env_names};
use super::provenance::Provenance;

/// Result of parsing one value.
pub(super) type Parsed<T> = Result<T, ConfigError>;

/// The typed values of one load, with the provenance that errors cite.
pub(super) struct Values<'a>(pub &'a Provenance);

impl Values<'_> {
    /// Where the value of `key` came from.
    pub fn origin(&self, key: &str) -> Origin {
        self.0.origin(key)
    }

    /// An error about the value of `key`.
    pub fn invalid(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::invalid(key, self.origin(key), problem)
    }

    /// A humantime duration (`"200ms"`, `"10m"`, `"7d"`).
    pub fn duration(&self, key: &str, raw: Option<String>, default: Duration) -> Parsed<Duration> {
        let Some(raw) = raw else { return Ok(default) };
        humantime::parse_duration(raw.trim()).map_err(|source| {
            let problem = format!("invalid duration {raw:?}");
            ConfigError::invalid_because(key, self.origin(key), problem, source)
        })
    }

    /// A duration that must not be zero.
    pub fn positive_duration(
        &self,
        key: &str,
        raw: Option<String>,
        default: Duration,
    ) -> Parsed<Duration> {
        let value = self.duration(key, raw, default)?;
        if value.is_zero() {
            return Err(self.invalid(key, "must be longer than 0s"));
        }
        Ok(value)
    }

    /// A non-negative integer.
    pub fn integer<T>(&self, key: &str, raw: Option<String>, default: T) -> Parsed<T>
    where
        T: FromStr<Err = std::num::ParseIntError>,
    {
        let Some(raw) = raw else { return Ok(default) };
        raw.trim().parse().map_err(|source| {
            let problem = format!("invalid number {raw:?}, expected a whole number of at least 0");
            ConfigError::invalid_because(key, self.origin(key), problem, source)
        })
    }

    /// An integer that must be at least 1.
    pub fn positive_integer<T>(&self, key: &str, raw: Option<String>, default: T) -> Parsed<T>
    where
        T: FromStr<Err = std::num::ParseIntError> + PartialEq + Default,
    {
        let value = self.integer(key, raw, default)?;
        if value == T::default() {
            return Err(self.invalid(key, "must be at least 1, got 0"));
        }
        Ok(value)
    }

    /// `true` or `false` (any case).
    pub fn boolean(&self, key: &str, raw: Option<String>, default: bool) -> Parsed<bool> {
        let Some(raw) = raw else { return Ok(default) };
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.invalid(
                key,
                format!("invalid boolean {raw:?}, expected true or false"),
            )),
        }
    }

    /// One of the named `options`.
    pub fn choice<T: Copy>(
        &self,
        key: &str,
        raw: Option<String>,
        default: T,
        options: &[(&str, T)],
    ) -> Parsed<T> {
        let Some(raw) = raw else { return Ok(default) };
        let found = options.iter().find(|(name, _)| *name == raw.trim());
        found.map(|(_, value)| *value).ok_or_else(|| {
            let names: Vec<String> = options
                .iter()
                .map(|(name, _)| format!("{name:?}"))
                .collect();
            let expected = names.join(", ");
            self.invalid(
                key,
                format!("invalid value {raw:?}, expected one of {expected}"),
            )
        })
    }

    /// An absolute `http` or `https` URL with a host.
    pub fn http_url(&self, key: &str, raw: &str) -> Parsed<Url> {
        let url = Url::parse(raw.trim()).map_err(|source| {
            let problem = format!("invalid URL {raw:?}");
            ConfigError::invalid_because(key, self.origin(key), problem, source)
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(self.invalid(key, format!("{raw:?} is not an http or https URL")));
        }
        Ok(url)
    }

    /// A socket address such as `0.0.0.0:3000` or `[::1]:8080`.
    pub fn socket_addr(&self, key: &str, raw: Option<String>, default: &str) -> Parsed<SocketAddr> {
        let raw = raw.unwrap_or_else(|| default.to_owned());
        raw.trim().parse().map_err(|source| {
            let problem = format!("invalid socket address {raw:?}, expected IP:PORT");
            ConfigError::invalid_because(key, self.origin(key), problem, source)
        })
    }

    /// A URL path: starts with `/`.
    pub fn url_path(&self, key: &str, raw: Option<String>, default: &str) -> Parsed<String> {
        let raw = raw.unwrap_or_else(|| default.to_owned());
        if !raw.starts_with('/') {
            return Err(self.invalid(key, format!("{raw:?} must start with \"/\"")));
        }
        Ok(raw)
    }

    /// An optional secret: when set, it must not be empty. Never echoed.
    pub fn secret(&self, key: &str, raw: Option<SecretString>) -> Parsed<Option<SecretString>> {
        match raw {
            Some(secret) if secret.expose_secret().trim().is_empty() => {
                Err(self.invalid(key, "must not be empty when set"))
            }
            other => Ok(other),
        }
    }

    /// A list of secrets, none of them empty. Never echoed.
    pub fn secrets(&self, key: &str, raw: Option<Vec<SecretString>>) -> Parsed<Vec<SecretString>> {
        let secrets = raw.unwrap_or_default();
        if let Some(index) = secrets
            .iter()
            .position(|secret| secret.expose_secret().is_empty())
        {
            let problem = format!("entry {index} is empty");
            return Err(ConfigError::invalid(key, self.origin(key), problem));
        }
        Ok(secrets)
    }

    /// An error for a required key that no layer set.
    pub fn missing(&self, key: &'static str, when: String) -> ConfigError {
        ConfigError::Missing {
            key,
            when,
            env: env_names(key, None),
        }
    }
}
