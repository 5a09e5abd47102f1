//! How single values are read and shown: a function per kind of value that serde calls to read
//! and check it (`#[serde(deserialize_with = "value::url_path")]`), and, for values the summary
//! shows otherwise than serde would (durations, URLs, secrets), a `with` module whose
//! `serialize` writes the value as the summary shows it (`#[serde(with = "value::duration")]`).
//!
//! Invariants: a value is echoed in an error only when it cannot be a secret; secrets are shown
//! as `***`, URLs with their credentials hidden ([`redact_url`]); every check on a single value
//! lives here, so a key's type in the settings says how it is checked.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::de::{Deserialize, Deserializer, Error};
use serde::ser::Serializer;

use super::redact::{redact_url, redact_url_text, shown};

/// What the summary shows for a secret that is set.
pub(super) const HIDDEN: &str = "***";

/// The text of a value, trimmed.
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(String::deserialize(deserializer)?.trim().to_owned())
}

/// A humantime duration: `"200ms"`, `"10m"`, `"7d"`.
pub(super) mod duration {
    use std::time::Duration;

    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = text(deserializer)?;
        humantime::parse_duration(&text).map_err(|error| {
            let text = shown(&text);
            D::Error::custom(format!("invalid duration {text:?}: {error}"))
        })
    }

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_duration(*value))
    }
}

/// A duration longer than zero.
pub(super) mod positive_duration {
    use std::time::Duration;

    pub use super::duration::serialize;
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let value = super::duration::deserialize(deserializer)?;
        if value.is_zero() {
            return Err(D::Error::custom("must be longer than 0s"));
        }
        Ok(value)
    }
}

/// An absolute `http` or `https` URL with a host. Messages and the summary hide credentials
/// inside it.
pub(super) mod http_url {
    use url::Url;

    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Url, D::Error> {
        let text = text(deserializer)?;
        let shown = redact_url_text(&text);
        let url = Url::parse(&text)
            .map_err(|error| D::Error::custom(format!("invalid URL {shown:?}: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(D::Error::custom(format!(
                "{shown:?} is not an http or https URL"
            )));
        }
        Ok(url)
    }

    pub fn serialize<S: Serializer>(value: &Url, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&redact_url(value))
    }
}

/// The store URL (`sqlite://…` or `postgres://…`), kept secret: it may hold a password.
pub(super) mod store_url {
    use secrecy::{ExposeSecret, SecretString};
    use url::Url;

    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<SecretString, D::Error> {
        let text = text(deserializer)?;
        // The URL may hold a password: errors describe it but never echo it.
        let url =
            Url::parse(&text).map_err(|error| D::Error::custom(format!("invalid URL: {error}")))?;
        if !matches!(url.scheme(), "sqlite" | "postgres" | "postgresql") {
            let scheme = url.scheme();
            return Err(D::Error::custom(format!(
                "unsupported scheme {scheme:?}, expected sqlite or postgres"
            )));
        }
        Ok(SecretString::from(text))
    }

    pub fn serialize<S: Serializer>(
        value: &SecretString,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&redact_url_text(value.expose_secret()))
    }
}

/// A secret: not empty, shown as `***`.
pub(super) mod secret {
    use secrecy::{ExposeSecret, SecretString};

    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<SecretString, D::Error> {
        let secret = SecretString::deserialize(deserializer)?;
        if secret.expose_secret().trim().is_empty() {
            return Err(D::Error::custom("must not be empty when set"));
        }
        Ok(secret)
    }

    pub fn serialize<S: Serializer>(_: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(HIDDEN)
    }
}

/// An optional secret (absent unless a layer sets it).
pub(super) mod optional_secret {
    use secrecy::SecretString;

    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SecretString>, D::Error> {
        super::secret::deserialize(deserializer).map(Some)
    }

    pub fn serialize<S: Serializer>(
        value: &Option<SecretString>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(_) => serializer.serialize_str(HIDDEN),
            None => serializer.serialize_none(),
        }
    }
}

/// A list of secrets, none empty; each shown as `***`.
pub(super) mod secrets {
    use secrecy::{ExposeSecret, SecretString};
    use serde::ser::SerializeSeq;

    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<SecretString>, D::Error> {
        let secrets = Vec::<SecretString>::deserialize(deserializer)?;
        if let Some(index) = secrets
            .iter()
            .position(|secret| secret.expose_secret().trim().is_empty())
        {
            return Err(D::Error::custom(format!("entry {index} is empty")));
        }
        Ok(secrets)
    }

    pub fn serialize<S: Serializer>(
        value: &[SecretString],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(value.len()))?;
        for _ in value {
            seq.serialize_element(HIDDEN)?;
        }
        seq.end()
    }
}

/// A whole number of at least 1.
pub(super) fn positive<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default + PartialEq + Display,
{
    let value = T::deserialize(deserializer)?;
    if value == T::default() {
        return Err(D::Error::custom(format!("must be at least 1, got {value}")));
    }
    Ok(value)
}

/// `crm.batch_size` of `hubspot`: 1 to 100 (HubSpot's batch maximum).
pub(super) fn hubspot_batch_size<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<usize, D::Error> {
    batch_size(deserializer, super::defaults::crm::hubspot_batch_size())
}

/// `crm.batch_size` of `salesforce`: 1 to 200 (the sObject Collections maximum).
pub(super) fn salesforce_batch_size<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<usize, D::Error> {
    batch_size(deserializer, super::defaults::crm::salesforce_batch_size())
}

/// A batch size from 1 to the vendor's `maximum`: more would be refused by the vendor, so it is
/// a configuration error rather than a silent cap.
fn batch_size<'de, D: Deserializer<'de>>(
    deserializer: D,
    maximum: usize,
) -> Result<usize, D::Error> {
    let size: usize = positive(deserializer)?;
    if size > maximum {
        return Err(D::Error::custom(format!(
            "must be at most {maximum} (the most this CRM takes in one batch request), got {size}"
        )));
    }
    Ok(size)
}

/// A socket address such as `0.0.0.0:3000` or `[::1]:8080`.
pub(super) fn socket_addr<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<SocketAddr, D::Error> {
    let text = text(deserializer)?;
    text.parse().map_err(|error| {
        let text = shown(&text);
        D::Error::custom(format!(
            "invalid socket address {text:?}, expected IP:PORT: {error}"
        ))
    })
}

/// A URL path: starts with `/`.
pub(super) fn url_path<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let path = String::deserialize(deserializer)?;
    if !path.starts_with('/') {
        let path = shown(&path);
        return Err(D::Error::custom(format!("{path:?} must start with \"/\"")));
    }
    Ok(path)
}

/// Domain names, compared without case: trimmed and lowercased.
pub(super) fn domains<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let mut domains = Vec::new();
    for written in Vec::<String>::deserialize(deserializer)? {
        let domain = written.trim().to_ascii_lowercase();
        if domain.is_empty() || domain.contains(['@', ' ', '/']) {
            let written = shown(&written);
            return Err(D::Error::custom(format!(
                "{written:?} is not a domain name (like \"example.com\")"
            )));
        }
        domains.push(domain);
    }
    Ok(domains)
}

/// A field or property name: letters, digits and `_`, starting with a letter.
pub(super) fn identifier<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let name = text(deserializer)?;
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        let name = shown(&name);
        return Err(D::Error::custom(format!(
            "invalid name {name:?}: letters, digits and _ only"
        )));
    }
    Ok(name)
}

/// Text that is not empty (trimmed).
pub(super) fn non_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = text(deserializer)?;
    if value.is_empty() {
        return Err(D::Error::custom("must not be empty"));
    }
    Ok(value)
}

/// A `v62.0`-style API version.
pub(super) fn api_version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let version = text(deserializer)?;
    let digits = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    let valid = version
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| digits(major) && digits(minor));
    if !valid {
        let version = shown(&version);
        return Err(D::Error::custom(format!(
            "invalid value {version:?}, expected a version like \"v62.0\""
        )));
    }
    Ok(version)
}

/// A file path: not empty.
pub(super) fn file_path<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PathBuf, D::Error> {
    let path = String::deserialize(deserializer)?;
    if path.trim().is_empty() {
        return Err(D::Error::custom("must not be empty"));
    }
    Ok(PathBuf::from(path))
}

/// A `log.level` filter directive, checked as logging will parse it.
pub(super) fn log_level<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let level = text(deserializer)?;
    if let Err(error) = super::level::env_filter(&level) {
        // The parser's reason quotes the directive: not when it holds a URL.
        let reason = if level.contains("://") {
            "a URL is not a level".to_owned()
        } else {
            error.to_string()
        };
        let level = shown(&level);
        return Err(D::Error::custom(format!(
            "invalid filter directive {level:?}: {reason}"
        )));
    }
    Ok(level)
}
