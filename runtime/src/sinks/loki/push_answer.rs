//! What Loki's answer to a push means. Loki stores what it can of a push
//! and answers 400 (or 429 for a rate limit) naming what it left out,
//! ending `total ignored: N out of M` (with `for stream: …` in newer
//! versions): those records are dropped, unknown which, and sending the
//! request again would store the rest twice.

use crate::sinks::util::http::response_class::{ResponseClass, answer_reason, classify};

/// The class of Loki's answer to a push of `records` records.
pub(crate) fn push_answer(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    records: u32,
) -> ResponseClass {
    let class = classify(status, retry_after, body);
    if !matches!(status, 400 | 429) {
        return class;
    }
    let Some(ignored) = total_ignored(body) else {
        return class;
    };
    let reason = answer_reason(status, body);
    if ignored >= u64::from(records) {
        // Nothing stored: the records are refused as they are.
        ResponseClass::Rejected(reason)
    } else {
        ResponseClass::PartlyDropped {
            dropped: ignored,
            reason,
        }
    }
}

/// The sum of every `total ignored: N out of M` in `body` (one per stream
/// that lost entries), or `None` if there is none.
fn total_ignored(body: &[u8]) -> Option<u64> {
    const MARK: &str = "total ignored: ";
    let text = String::from_utf8_lossy(body);
    let mut found = None;
    for (at, _) in text.match_indices(MARK) {
        let rest = &text[at + MARK.len()..];
        let digits: &str = &rest[..rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len())];
        if let Ok(n) = digits.parse::<u64>()
            && rest[digits.len()..].starts_with(" out of ")
        {
            found = Some(found.unwrap_or(0u64).saturating_add(n));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_ingest_is_a_drop_and_a_whole_one_a_rejection() {
        let body = b"entry with timestamp 2026-01-01 ignored, reason: 'entry too far behind',\nuser 'fake', total ignored: 2 out of 10 for stream: {app=\"a\"}";
        assert!(matches!(
            push_answer(400, None, body, 10),
            ResponseClass::PartlyDropped { dropped: 2, .. }
        ));
        let older = b"entry with timestamp x ignored, reason: 'entry out of order' for stream: {a=\"b\"},\ntotal ignored: 10 out of 10";
        assert!(matches!(
            push_answer(400, None, older, 10),
            ResponseClass::Rejected(_)
        ));
        // A rate limit on part of the push: the rest was stored.
        assert!(matches!(
            push_answer(
                429,
                None,
                b"total ignored: 3 out of 5 for stream: {a=\"b\"}",
                10
            ),
            ResponseClass::PartlyDropped { dropped: 3, .. }
        ));
    }

    #[test]
    fn other_answers_are_classified_as_for_any_http_server() {
        assert_eq!(push_answer(204, None, b"", 3), ResponseClass::Accepted);
        assert!(matches!(
            push_answer(400, None, b"error parsing labels", 3),
            ResponseClass::Rejected(_)
        ));
        assert!(matches!(
            push_answer(429, None, b"ingestion rate limit exceeded", 3),
            ResponseClass::Retryable { .. }
        ));
        assert!(matches!(
            push_answer(400, None, b"total ignored: lots out of 3", 3),
            ResponseClass::Rejected(_)
        ));
    }
}
