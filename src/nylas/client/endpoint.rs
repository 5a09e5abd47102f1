//! The Nylas operations the client performs, as data: method, path template and the query
//! parameters each one may send, and the construction of their URLs.
//!
//! Invariants: every request the client sends goes through one [`Endpoint`] constant below (so
//! the contract test can check all of them against the official OpenAPI spec), and every id that
//! becomes a path segment is percent-encoded except for RFC 3986 unreserved characters
//! (`A-Z a-z 0-9 - . _ ~`). Google calendar ids contain `@` and `#`, Microsoft ids `/ + =`:
//! sent raw they would change the path or cut it short.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use url::Url;

/// Characters percent-encoded in a path segment: everything but the unreserved set.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An HTTP method the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `DELETE`.
    Delete,
}

impl Verb {
    /// The reqwest method.
    pub fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Delete => Method::DELETE,
        }
    }

    /// The lowercase name, as OpenAPI keys operations.
    pub fn as_openapi(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Delete => "delete",
        }
    }
}

/// One API operation: method, path template (placeholder names as in the spec) and the query
/// parameters the client may send with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The HTTP method.
    pub verb: Verb,
    /// E.g. `/v3/grants/{grant_id}/events/{event_id}`.
    pub path: &'static str,
    /// Names of the query parameters this client sends (a subset of what the spec allows).
    pub query: &'static [&'static str],
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb.method(), self.path)
    }
}

/// An id that cannot be placed in a path: empty, `.` or `..` (URL parsers treat the last two,
/// even percent-encoded, as dot segments and would silently address another resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnaddressableId(pub String);

impl Endpoint {
    /// True for operations on one grant's data (`/v3/grants/{grant_id}/…`), where a 401 may be
    /// the grant's fault rather than the API key's.
    pub fn is_grant_scoped(&self) -> bool {
        self.path.starts_with("/v3/grants/{grant_id}/")
    }

    /// The request URL: `base` (any path prefix kept) followed by the template with each
    /// placeholder replaced, in order, by the next id, percent-encoded.
    pub fn url(&self, base: &Url, ids: &[&str]) -> Result<Url, UnaddressableId> {
        if let Some(bad) = ids.iter().find(|id| matches!(**id, "" | "." | "..")) {
            return Err(UnaddressableId((*bad).to_owned()));
        }
        debug_assert_eq!(
            self.path.matches('{').count(),
            ids.len(),
            "{self}: one id per placeholder"
        );
        let mut ids = ids.iter();
        let mut path = base.path().trim_end_matches('/').to_owned();
        for segment in self.path.split('/').filter(|segment| !segment.is_empty()) {
            path.push('/');
            if segment.starts_with('{') {
                let id = ids.next().copied().unwrap_or_default();
                path.extend(utf8_percent_encode(id, SEGMENT));
            } else {
                path.push_str(segment);
            }
        }
        let mut url = base.clone();
        // Every byte outside the unreserved set is already encoded: set_path keeps it as is.
        url.set_path(&path);
        url.set_query(None);
        url.set_fragment(None);
        Ok(url)
    }
}

/// `GET /v3/grants/{grant_id}/events/{event_id}`
pub const GET_EVENT: &Endpoint = &Endpoint {
    verb: Verb::Get,
    path: "/v3/grants/{grant_id}/events/{event_id}",
    query: &["calendar_id"],
};

/// `GET /v3/grants/{grant_id}/events`
pub const LIST_EVENTS: &Endpoint = &Endpoint {
    verb: Verb::Get,
    path: "/v3/grants/{grant_id}/events",
    query: &[
        "calendar_id",
        "start",
        "end",
        "limit",
        "page_token",
        "updated_after",
        "show_cancelled",
        "expand_recurring",
        "master_event_id",
    ],
};

/// `GET /v3/grants/{grant_id}/calendars`
pub const LIST_CALENDARS: &Endpoint = &Endpoint {
    verb: Verb::Get,
    path: "/v3/grants/{grant_id}/calendars",
    query: &["limit", "page_token"],
};

/// `GET /v3/grants`
pub const LIST_GRANTS: &Endpoint = &Endpoint {
    verb: Verb::Get,
    path: "/v3/grants",
    query: &["limit", "offset"],
};

/// `GET /v3/grants/{grantId}` (the spec names this placeholder differently from the others)
pub const GET_GRANT: &Endpoint = &Endpoint {
    verb: Verb::Get,
    path: "/v3/grants/{grantId}",
    query: &[],
};

/// `POST /v3/webhooks`
pub const CREATE_SUBSCRIPTION: &Endpoint = &Endpoint {
    verb: Verb::Post,
    path: "/v3/webhooks",
    query: &[],
};

/// `GET /v3/webhooks`
pub const LIST_SUBSCRIPTIONS: &Endpoint = &Endpoint {
    verb: Verb::Get,
    path: "/v3/webhooks",
    query: &[],
};

/// `POST /v3/webhooks/rotate-secret/{id}` (exactly this path: one official SDK calls another).
pub const ROTATE_SUBSCRIPTION_SECRET: &Endpoint = &Endpoint {
    verb: Verb::Post,
    path: "/v3/webhooks/rotate-secret/{id}",
    query: &[],
};

/// `DELETE /v3/webhooks/{id}`
pub const DELETE_SUBSCRIPTION: &Endpoint = &Endpoint {
    verb: Verb::Delete,
    path: "/v3/webhooks/{id}",
    query: &[],
};

/// Every endpoint the client uses (checked against the spec by the contract test).
pub const ALL: &[&Endpoint] = &[
    GET_EVENT,
    LIST_EVENTS,
    LIST_CALENDARS,
    LIST_GRANTS,
    GET_GRANT,
    CREATE_SUBSCRIPTION,
    LIST_SUBSCRIPTIONS,
    ROTATE_SUBSCRIPTION_SECRET,
    DELETE_SUBSCRIPTION,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn base(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn every_reserved_character_in_an_id_is_encoded() {
        let url = GET_EVENT
            .url(
                &base("https://api.us.nylas.com"),
                &["a@b.c", "AAMk+a/b=#x?y z%~_-."],
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.us.nylas.com/v3/grants/a%40b.c/events/AAMk%2Ba%2Fb%3D%23x%3Fy%20z%25~_-."
        );
        let unicode = LIST_EVENTS.url(&base("http://h"), &["é"]).unwrap();
        assert_eq!(unicode.path(), "/v3/grants/%C3%A9/events");
    }

    #[test]
    fn a_base_path_prefix_is_kept() {
        let url = LIST_GRANTS
            .url(&base("http://127.0.0.1:9/proxy/"), &[])
            .unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9/proxy/v3/grants");
    }

    #[test]
    fn dot_segments_and_empty_ids_are_refused() {
        for id in ["", ".", ".."] {
            let result = DELETE_SUBSCRIPTION.url(&base("http://h"), &[id]);
            assert_eq!(result, Err(UnaddressableId(id.to_owned())), "{id:?}");
        }
        assert!(DELETE_SUBSCRIPTION.url(&base("http://h"), &["..."]).is_ok());
    }

    #[test]
    fn grant_scoped_endpoints_are_recognised() {
        assert!(GET_EVENT.is_grant_scoped());
        assert!(LIST_CALENDARS.is_grant_scoped());
        assert!(!LIST_GRANTS.is_grant_scoped());
        assert!(!DELETE_SUBSCRIPTION.is_grant_scoped());
        assert_eq!(
            GET_EVENT.to_string(),
            "GET /v3/grants/{grant_id}/events/{event_id}"
        );
    }
}
