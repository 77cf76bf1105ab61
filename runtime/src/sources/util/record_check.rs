//! Whether bytes a stranger sent are one record the pipeline takes: one
//! JSON value in UTF-8, nested no deeper than every sink can parse.

use super::body::{BodyError, client_text as bounded};

/// Deepest nesting a record may have: what `serde_json` parses by default,
/// so every sink can read every record it is given.
pub(crate) const MAX_DEPTH: usize = 128;

/// Checks that `record` is exactly one JSON value in UTF-8, nested at
/// most [`MAX_DEPTH`] deep.
pub(crate) fn check(record: &[u8], line: usize) -> Result<(), BodyError> {
    let bad = |reason: String| BodyError::BadRecord { line, reason };
    if depth(record) > MAX_DEPTH {
        return Err(bad(format!("nested deeper than {MAX_DEPTH} levels")));
    }
    let mut values =
        serde_json::Deserializer::from_slice(record).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => {}
        Some(Err(e)) => return Err(bad(bounded(&e.to_string()))),
        None => return Err(bad("empty".into())),
    }
    if values.byte_offset() != record.len() {
        return Err(bad(format!(
            "more than one JSON value (trailing characters at byte {})",
            values.byte_offset()
        )));
    }
    std::str::from_utf8(record)
        .map_err(|e| bad(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    Ok(())
}

/// How deep objects and arrays nest in `json` (strings skipped).
pub(crate) fn depth(json: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}
