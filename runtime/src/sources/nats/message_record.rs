//! A JetStream message's payload as a record, with, when asked, where it
//! came from added as a field: what a destination needs to tell a
//! redelivered message from a new one (the stream sequence is unique per
//! stream).

use crate::sources::util::body::BodyError;
use crate::sources::util::record_check::check;
use crate::sources::util::record_metadata::with_metadata;

/// Where a message came from.
pub(crate) struct Origin<'a> {
    pub(crate) stream: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) stream_sequence: u64,
    pub(crate) delivered: i64,
}

/// The record of `payload`, checked (one JSON value in UTF-8, nested at
/// most 128 deep); with `metadata_field`, an object record gains
/// `{stream, subject, stream_sequence, delivered}` under it (a record
/// that is not an object is taken as it is).
pub(crate) fn record(
    payload: &[u8],
    metadata_field: Option<&str>,
    origin: &Origin,
) -> Result<Vec<u8>, BodyError> {
    let trimmed = payload.trim_ascii();
    check(trimmed, 1)?;
    let Some(field) = metadata_field else {
        return Ok(trimmed.to_vec());
    };
    let metadata = serde_json::json!({
        "stream": origin.stream,
        "subject": origin.subject,
        "stream_sequence": origin.stream_sequence,
        "delivered": origin.delivered,
    });
    Ok(with_metadata(trimmed, field, &metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: Origin = Origin {
        stream: "LOGS",
        subject: "logs.web",
        stream_sequence: 42,
        delivered: 2,
    };

    #[test]
    fn the_origin_is_added_to_object_records_only_when_asked() {
        assert_eq!(record(b" {\"a\":1} ", None, &ORIGIN).unwrap(), b"{\"a\":1}");
        let with = record(b"{\"a\":1}", Some("nats"), &ORIGIN).unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&with).unwrap(),
            serde_json::json!({"a": 1, "nats": {"stream": "LOGS", "subject": "logs.web", "stream_sequence": 42, "delivered": 2}})
        );
        let empty = record(b"{ }", Some("nats"), &ORIGIN).unwrap();
        assert!(serde_json::from_slice::<serde_json::Value>(&empty).unwrap()["nats"].is_object());
        assert_eq!(record(b"[1]", Some("nats"), &ORIGIN).unwrap(), b"[1]");
        assert!(record(b"{\"a\":", Some("nats"), &ORIGIN).is_err());
        assert!(record(b"\xff", None, &ORIGIN).is_err());
    }
}
