//! URLs as the configuration prints them: credentials inside a URL setting are hidden.
//!
//! Invariants: a password in the user info is always `***`; so is a user name without a
//! password in an `http`/`https` URL (`https://TOKEN@host` carries a token there), while a
//! database user name stays visible; query parameters named like credentials (`password`,
//! `token`, `secret`, `key`, …) are `***`; a text that does not parse as a URL loses everything
//! between `://` and the last `@` of its authority.

use url::Url;

const HIDDEN: &str = "***";

/// Query parameter names whose values are hidden (compared without case, as suffixes: `apikey`,
/// `api_key`, `access_token`, `client_secret`…).
const SECRET_PARAMETERS: &[&str] = &["password", "passwd", "secret", "token", "key", "signature"];

/// `url` with its credentials replaced by `***`.
pub fn redact_url(url: &Url) -> String {
    let mut url = url.clone();
    let http = matches!(url.scheme(), "http" | "https");
    if url.password().is_some() && url.set_password(Some(HIDDEN)).is_err() {
        return HIDDEN.to_owned();
    }
    if http
        && url.password().is_none()
        && !url.username().is_empty()
        && url.set_username(HIDDEN).is_err()
    {
        return HIDDEN.to_owned();
    }
    let hides_parameter = url
        .query_pairs()
        .any(|(name, _)| is_secret_parameter(&name));
    if hides_parameter {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if is_secret_parameter(&name) {
                    HIDDEN.to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// `text` (a URL setting as written) with its credentials hidden, whether or not it parses.
pub fn redact_url_text(text: &str) -> String {
    match Url::parse(text.trim()) {
        // Nothing to hide: the text as written, not as the parser normalizes it.
        Ok(url) if redact_url(&url) == url.as_str() => text.to_owned(),
        Ok(url) => redact_url(&url),
        Err(_) => redact_unparsed(text),
    }
}

/// A value as an error may echo it: a text holding a URL loses the URL's credentials (a URL
/// may be written under any key, by mistake), any other text is unchanged.
pub(super) fn shown(text: &str) -> String {
    if text.contains("://") {
        redact_url_text(text)
    } else {
        text.to_owned()
    }
}

fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMETERS
        .iter()
        .any(|secret| name.ends_with(secret))
}

/// Hides the user info of a text that is not a valid URL (a bad port, a stray space…), and any
/// query string, which could hold a credential.
fn redact_unparsed(text: &str) -> String {
    let (text, query) = match text.split_once('?') {
        Some((before, _)) => (before, "?***"),
        None => (text, ""),
    };
    let Some(start) = text.find("://").map(|index| index + 3) else {
        return format!("{text}{query}");
    };
    let end = text[start..]
        .find(['/', '#'])
        .map_or(text.len(), |index| start + index);
    match text[start..end].rfind('@') {
        Some(at) => format!("{}{HIDDEN}{}{query}", &text[..start], &text[start + at..]),
        None => format!("{text}{query}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> String {
        redact_url(&Url::parse(text).unwrap())
    }

    #[test]
    fn passwords_and_http_user_names_are_hidden() {
        assert_eq!(
            redacted("https://user:hunter2@crm.example.com/api"),
            "https://user:***@crm.example.com/api"
        );
        assert_eq!(
            redacted("https://tok3n@crm.example.com/"),
            "https://***@crm.example.com/"
        );
        assert_eq!(
            redacted("postgres://calsync:pw@db:5432/calsync?sslmode=require"),
            "postgres://calsync:***@db:5432/calsync?sslmode=require"
        );
        assert_eq!(
            redacted("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            redacted("https://crm.example.com/"),
            "https://crm.example.com/"
        );
    }

    #[test]
    fn credential_parameters_are_hidden() {
        assert_eq!(
            redacted("postgres://db/calsync?user=u&password=pw&sslmode=require"),
            "postgres://db/calsync?user=u&password=***&sslmode=require"
        );
        assert_eq!(
            redacted("https://crm.example.com/?api_key=k1&access_token=t2&page=3"),
            "https://crm.example.com/?api_key=***&access_token=***&page=3"
        );
    }

    #[test]
    fn unparsed_text_loses_its_user_info_and_query() {
        assert_eq!(
            redact_url_text("postgres://u:hunter2@[db/x"),
            "postgres://***@[db/x"
        );
        assert_eq!(
            redact_url_text("https://a:b@host:99999/x?token=t"),
            "https://***@host:99999/x?***"
        );
        assert_eq!(redact_url_text("not a url"), "not a url");
    }
}
