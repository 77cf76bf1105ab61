//! Where a record came from, added to it as one field, so an aggregator can
//! tell records apart by origin without the sender rewriting them. Only an
//! object record gains the field; any other record is taken as it is.

/// `record` (one checked JSON value) with `field`: `metadata` added when it
/// is an object. A field of that name already in the record stays, and the
/// added one comes last (readers keep the last of a repeated key).
pub(crate) fn with_metadata(record: &[u8], field: &str, metadata: &serde_json::Value) -> Vec<u8> {
    let trimmed = record.trim_ascii();
    if !(trimmed.starts_with(b"{") && trimmed.ends_with(b"}")) {
        return trimmed.to_vec();
    }
    let mut out = Vec::with_capacity(trimmed.len() + field.len() + 96);
    out.extend_from_slice(&trimmed[..trimmed.len() - 1]);
    if !trimmed[1..trimmed.len() - 1].trim_ascii().is_empty() {
        out.push(b',');
    }
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, field);
    out.push(b':');
    let _ = serde_json::to_writer(&mut out, metadata);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_objects_gain_the_field() {
        let origin = serde_json::json!({"source": "edge"});
        let with = with_metadata(b" {\"a\":1} ", "origin", &origin);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&with).unwrap(),
            serde_json::json!({"a": 1, "origin": {"source": "edge"}})
        );
        let empty = with_metadata(b"{ }", "origin", &origin);
        assert_eq!(empty, br#"{ "origin":{"source":"edge"}}"#);
        assert_eq!(with_metadata(b"[1]", "origin", &origin), b"[1]");
    }
}
