//! How an error is shown to people: the error and its causes, each once.
//!
//! The rule, crate-wide: an error's `Display` says only what *its own layer* knows ("rest create
//! failed", "writing to the CRM failed") and never formats its source; the cause is reachable
//! through [`std::error::Error::source`] (`#[source]`/`#[from]`). Everything printed or logged —
//! log lines' `error` field, a job's or dead letter's `last_error`, `check` and command output,
//! the binary's final report — goes through [`Chain`], which writes the whole chain joined by
//! `": "`, so the root cause (connection refused, a DNS failure, TLS, a timeout) is always
//! there. A source whose text is already contained in what was written before it is left out:
//! errors that do quote their source (third-party ones do) never make a cause appear twice.

use std::error::Error;
use std::fmt;

/// Displays an error with its chain of causes, each once: `outer: cause: root cause`.
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut written = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            let text = text.trim();
            if !text.is_empty() && !written.contains(text) {
                if !written.is_empty() {
                    written.push_str(": ");
                }
                written.push_str(text);
            }
            source = cause.source();
        }
        f.write_str(&written)
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The error and its causes as one line (see [`Chain`]).
pub fn chain(error: &(dyn Error + 'static)) -> String {
    Chain(error).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{what}")]
    struct Layer {
        what: &'static str,
        #[source]
        source: Option<Box<dyn Error + Send + Sync + 'static>>,
    }

    fn layer(what: &'static str, source: Option<Layer>) -> Layer {
        Layer {
            what,
            source: source.map(|source| Box::new(source) as _),
        }
    }

    #[test]
    fn every_cause_is_shown_once_in_order() {
        let root = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let error = Layer {
            what: "rest create failed",
            source: Some(Box::new(layer("tcp connect error", None))),
        };
        assert_eq!(chain(&error), "rest create failed: tcp connect error");
        let error = Layer {
            what: "writing to the CRM failed",
            source: Some(Box::new(Layer {
                what: "rest create failed",
                source: Some(Box::new(root)),
            })),
        };
        assert_eq!(
            chain(&error),
            "writing to the CRM failed: rest create failed: connection refused"
        );
    }

    #[test]
    fn a_cause_already_quoted_is_not_repeated() {
        // An outer layer that quotes its source (as third-party errors do).
        let error = layer(
            "the store is unavailable: disk I/O error",
            Some(layer("disk I/O error", Some(layer("", None)))),
        );
        assert_eq!(chain(&error), "the store is unavailable: disk I/O error");
        let error = layer("outer", Some(layer("outer", Some(layer("root", None)))));
        assert_eq!(chain(&error), "outer: root");
    }
}
