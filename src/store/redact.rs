//! Passwords out of store URLs before they reach a message or a log line.
//!
//! Invariant: for a URL of the form `scheme://user:password@host…`, parseable or not, the output
//! never contains the password.

/// The URL with any password replaced by `***`, for messages. A URL that does not parse (a bad
/// port, say) is redacted textually: whatever sits between the user name and the last `@` of
/// its authority.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => redact_unparsed(url),
    }
}

fn redact_unparsed(url: &str) -> String {
    let Some(start) = url.find("://").map(|index| index + 3) else {
        return url.to_string();
    };
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |index| start + index);
    let authority = &url[start..end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..start],
            &authority[..colon],
            &url[start + at..]
        ),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_even_from_urls_that_do_not_parse() {
        assert_eq!(
            redact_url("postgres://calsync:s3cret@db:5432/calsync"),
            "postgres://calsync:***@db:5432/calsync"
        );
        assert_eq!(
            redact_url("postgres://calsync:s3cret@db:notaport/calsync"),
            "postgres://calsync:***@db:notaport/calsync"
        );
        assert_eq!(
            redact_url("postgres://u:p@ss@w0rd@db:bad/x"),
            "postgres://u:***@db:bad/x"
        );
        assert_eq!(redact_url("sqlite://calsync.db"), "sqlite://calsync.db");
        assert_eq!(redact_url("postgres://db:bad/x"), "postgres://db:bad/x");
    }
}
