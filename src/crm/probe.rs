//! What the adapters' [`check`](super::CrmAdapter::check) methods share: a failed probe names
//! the URL it tried, so `calsync check` shows where a wrong base URL or path led.
//!
//! Invariants: the URL is shown without its password (`***`); it is added once, to the error's
//! own message (a transport error already names its URL, and reqwest never keeps userinfo in
//! it: it moves it to an `Authorization` header before sending).

use url::Url;

use super::CrmError;
use crate::retry::Retry;

/// `url` as shown in messages: any password replaced by `***`.
pub fn shown(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// The error of a check's request (`method url`), naming the URL (status, redirect and protocol
/// errors; other kinds name it already or were never sent).
pub fn naming(error: CrmError, method: &str, url: &Url) -> CrmError {
    let tried = |message: String| format!("{method} {}: {message}", shown(url));
    match error {
        CrmError::Status {
            operation,
            status,
            message,
            retry,
        } => CrmError::Status {
            operation,
            status,
            message: tried(message),
            retry,
        },
        CrmError::Protocol { operation, message } => CrmError::Protocol {
            operation,
            message: tried(message),
        },
        CrmError::Redirected {
            operation,
            redirect,
            retry,
        } => CrmError::Status {
            operation,
            status: redirect.status,
            message: tried(format!(
                "a redirect to {}: calsync follows no redirects, so configure the final URL",
                redirect.location.as_deref().unwrap_or("(no Location)")
            )),
            retry,
        },
        other => other,
    }
}

/// A probe's answer that says the endpoint is not where the settings point: 404 or 410
/// (nothing there) or a redirect (which calsync never follows). `settings` names the keys that
/// make the URL (`crm.base_url or crm.meetings_path`). `None` for any other status.
pub fn misdirected(
    operation: &'static str,
    status: reqwest::StatusCode,
    location: Option<&str>,
    url: &Url,
    settings: &str,
) -> Option<CrmError> {
    let message = if status.is_redirection() {
        format!(
            "GET {} answers with a redirect to {}: calsync does not follow redirects, so set {settings} to the final URL",
            shown(url),
            location.unwrap_or("(no Location)")
        )
    } else if matches!(status.as_u16(), 404 | 410) {
        format!("nothing at GET {}: {settings} is wrong", shown(url))
    } else {
        return None;
    };
    Some(CrmError::Status {
        operation,
        status: status.as_u16(),
        message,
        retry: Retry::Permanent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn a_missing_or_moved_endpoint_names_the_url_without_its_password() {
        let tried = url("https://calsync:s3cret@crm.example.com/api/wrong");
        let missing = misdirected(
            "rest check",
            StatusCode::NOT_FOUND,
            None,
            &tried,
            "crm.base_url or crm.meetings_path",
        )
        .unwrap()
        .to_string();
        assert!(
            missing.contains("nothing at GET https://calsync:***@crm.example.com/api/wrong"),
            "{missing}"
        );
        assert!(missing.contains("crm.meetings_path") && !missing.contains("s3cret"));
        let moved = misdirected(
            "rest check",
            StatusCode::MOVED_PERMANENTLY,
            Some("https://crm.example.com/v2/meetings"),
            &tried,
            "crm.base_url",
        )
        .unwrap()
        .to_string();
        assert!(
            moved.contains("redirect to https://crm.example.com/v2/meetings"),
            "{moved}"
        );
        for fine in [200, 400, 401, 405, 422, 500] {
            let status = StatusCode::from_u16(fine).unwrap();
            assert!(
                misdirected("rest check", status, None, &tried, "x").is_none(),
                "{fine}"
            );
        }
    }

    #[test]
    fn status_and_protocol_errors_gain_the_url_once() {
        let tried = url("https://api.example.com/crm/meetings?limit=1");
        let status = CrmError::Status {
            operation: "hubspot check",
            status: 401,
            message: "token expired".into(),
            retry: Retry::Auth,
        };
        let named = naming(status, "GET", &tried);
        assert_eq!(
            named.to_string(),
            "hubspot check answered HTTP 401: GET https://api.example.com/crm/meetings?limit=1: token expired"
        );
        assert_eq!(named.retry(), Retry::Auth);
        let throttled = CrmError::HeldBack {
            operation: "hubspot check",
            wait: std::time::Duration::from_secs(60),
        };
        assert!(!naming(throttled, "GET", &tried).to_string().contains("GET"));
    }
}
