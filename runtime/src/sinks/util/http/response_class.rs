//! What an HTTP response means for the records it carried.
//!
//! 2xx: accepted. 408, 429 and 5xx except 501: retryable, after the
//! server's `Retry-After` when it sends one. Any other status: rejected,
//! with the server's answer (cut to a bounded size, escaped) as the reason,
//! so a dead letter says what the server objected to.

use std::time::{Duration, SystemTime};

/// The longest `Retry-After` honoured; a server asking for more is waited
/// on this long, then asked again.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How much of a server's answer a reason keeps.
const MAX_ANSWER_BYTES: usize = 1024;

/// What one response means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResponseClass {
    /// Every record in the request was delivered.
    Accepted,
    /// Every record was delivered, and the server said something worth a
    /// warning (OTLP partial success with no records rejected).
    Warned(String),
    /// Try again (later, if the server said when).
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The server will never take these records.
    Rejected(String),
    /// The server took the request but dropped `dropped` of its records
    /// without saying which (OTLP partial success, Loki's "total ignored"):
    /// nothing to send again.
    PartlyDropped { dropped: u64, reason: String },
    /// The request went out and no answer came back: the server may have
    /// stored it. Sent again, counted apart.
    Indeterminate(String),
}

/// Classifies a response by its status, `Retry-After` header and body.
pub(crate) fn classify(status: u16, retry_after: Option<&str>, body: &[u8]) -> ResponseClass {
    let answer = || answer_reason(status, body);
    match status {
        200..=299 => ResponseClass::Accepted,
        408 | 429 | 500 | 502..=599 => ResponseClass::Retryable {
            reason: answer(),
            retry_after: retry_after.and_then(parse_retry_after),
        },
        _ => ResponseClass::Rejected(answer()),
    }
}

/// `HTTP <status>: <the server's answer>`, the answer cut to a bounded
/// size and escaped (it ends up in logs and dead letters).
pub(crate) fn answer_reason(status: u16, body: &[u8]) -> String {
    let text = bounded_text(body);
    if text.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {text}")
    }
}

/// Text a server sent, cut to a bounded size and escaped.
pub(crate) fn bounded_text(bytes: &[u8]) -> String {
    crate::untrusted_text::bound_and_escape(
        &String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_ANSWER_BYTES * 4)]),
        MAX_ANSWER_BYTES,
    )
}

/// `Retry-After` as seconds (`120`) or an HTTP date, capped.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(SystemTime::now())
            .unwrap_or_default(),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_outcomes_the_contract_names() {
        assert_eq!(classify(200, None, b""), ResponseClass::Accepted);
        assert_eq!(classify(204, None, b""), ResponseClass::Accepted);
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(status, None, b""), ResponseClass::Retryable { .. }),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 413, 422, 501] {
            assert!(
                matches!(classify(status, None, b""), ResponseClass::Rejected(_)),
                "{status}"
            );
        }
        assert_eq!(
            classify(429, Some("7"), b"slow down"),
            ResponseClass::Retryable {
                reason: "HTTP 429: slow down".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
    }

    #[test]
    fn a_servers_answer_is_bounded_and_escaped() {
        let body = format!("bad\n\u{1b}[2J{}", "x".repeat(100_000));
        let ResponseClass::Rejected(reason) = classify(400, None, body.as_bytes()) else {
            panic!()
        };
        assert!(reason.len() < MAX_ANSWER_BYTES + 100, "{}", reason.len());
        assert!(reason.starts_with("HTTP 400: bad\\n\\u{1b}[2J"));
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_capped() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("99999"), Some(MAX_RETRY_AFTER));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(60));
        let wait = parse_retry_after(&soon).unwrap();
        assert!(wait <= Duration::from_secs(60) && wait >= Duration::from_secs(55));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
