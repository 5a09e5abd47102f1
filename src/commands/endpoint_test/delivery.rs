//! Delivering the test notification of `calsync webhook test`: the notification Nylas would
//! send, signed and posted as Nylas posts it (no redirects followed), and what the answer means.

use std::io::Write;
use std::time::Instant;

use jiff::Timestamp;
use serde_json::json;
use url::Url;

use super::{Delivery, EndpointTestError, POST_TIMEOUT, output};
use crate::http::verify::sign;
use crate::nylas::Event;

/// The notification Nylas would send for an update of `event` at `now`, as bytes.
pub(super) fn notification(
    event: &Event,
    id: &str,
    now: Timestamp,
) -> Result<Vec<u8>, EndpointTestError> {
    let object = serde_json::to_value(event).map_err(|error| output(error.into()))?;
    let envelope = json!({
        "specversion": "1.0",
        "type": "event.updated",
        "source": "/calsync/webhook-test",
        "id": id,
        "time": now.as_second(),
        "webhook_delivery_attempt": 1,
        "data": {"application_id": "calsync-webhook-test", "object": object},
    });
    serde_json::to_vec(&envelope).map_err(|error| output(error.into()))
}

/// POSTs the signed body and reports the answer.
pub(super) async fn post(
    url: &Url,
    secret: &str,
    body: Vec<u8>,
    out: &mut impl Write,
) -> Result<Delivery, EndpointTestError> {
    let client = reqwest::Client::builder()
        .user_agent(concat!(
            "calsync/",
            env!("CARGO_PKG_VERSION"),
            " webhook-test"
        ))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(POST_TIMEOUT)
        .build()
        .map_err(EndpointTestError::HttpClient)?;
    let signature = sign(secret, &body);
    // How long the daemon took to answer, for the operator (a measurement: see `crate::clock`).
    let started = Instant::now();
    let sent = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Nylas-Signature", signature)
        .body(body)
        .send()
        .await;
    let elapsed = started.elapsed().as_millis();
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            let reason = causes(&error);
            writeln!(out, "No answer after {elapsed} ms: {reason}.").map_err(output)?;
            return Ok(Delivery::Unreachable(reason));
        }
    };
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    let excerpt: String = text.trim().chars().take(200).collect();
    writeln!(
        out,
        "Answer: HTTP {status} in {elapsed} ms. {}",
        meaning(status.as_u16(), location.as_deref())
    )
    .map_err(output)?;
    if !status.is_success() && !excerpt.is_empty() {
        writeln!(out, "  body: {excerpt}").map_err(output)?;
    }
    Ok(Delivery::Answered(status.as_u16()))
}

/// An error and its causes, each once (`error sending request: connection refused`).
fn causes(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}

/// What an answer means for a notification Nylas would send.
fn meaning(status: u16, location: Option<&str>) -> String {
    match status {
        200 => "The daemon verified the signature and stored the notification.".to_owned(),
        401 => "The daemon rejected the signature: it is not configured with this secret (nylas.webhook_secrets where it runs), so it rejects what Nylas signs with it too.".to_owned(),
        503 => "The daemon could not take it: it has no webhook secret configured, is shutting down, or cannot write to its store (see its log).".to_owned(),
        404 | 405 => "Nothing takes notifications at this path: check the URL's path (server.webhook_path, default /webhooks/nylas) and the proxy's routing.".to_owned(),
        413 => "The body is over the daemon's server.max_body_bytes.".to_owned(),
        400 => "The daemon could not read the notification.".to_owned(),
        300..=399 => format!(
            "A redirect to {}: Nylas does not follow redirects; use the final URL.",
            location.unwrap_or("(no Location)")
        ),
        _ => "Not calsync's answer to a signed notification: is calsync serving this URL?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::endpoint_test::EndpointTestError;

    #[test]
    fn causes_are_listed_once_each() {
        let inner =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let outer = EndpointTestError::Output(inner);
        assert_eq!(
            causes(&outer),
            "cannot write the command's output: connection refused"
        );
    }

    #[test]
    fn every_answer_is_explained() {
        for status in [200, 400, 401, 404, 413, 503, 302, 500] {
            assert!(!meaning(status, Some("https://x")).is_empty());
        }
        assert!(
            meaning(301, Some("https://calsync.example.com/webhooks/nylas"))
                .contains("https://calsync.example.com")
        );
    }
}
