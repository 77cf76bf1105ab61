//! An `http_server` request body (decompressed) to records: a JSON array,
//! one JSON value, or NDJSON, every record checked, the first bad one
//! named.

use crate::sources::util::body::{BodyError, client_text as bounded};
use crate::sources::util::record_check::check;

/// The records of a (decompressed) body: a JSON array's elements, the one
/// JSON value of an `application/json` body, or the lines of NDJSON.
pub(crate) fn records<'a>(
    content_type: Option<&str>,
    body: &'a [u8],
    max_records: usize,
) -> Result<Vec<&'a [u8]>, BodyError> {
    let trimmed = body.trim_ascii();
    let json = content_type.is_some_and(|t| t.trim_start().starts_with("application/json"));
    if trimmed.starts_with(b"[") {
        return array_elements(trimmed, max_records);
    }
    if json {
        check(trimmed, 1)?;
        return Ok(vec![trimmed]);
    }
    let mut records = Vec::new();
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        if records.len() == max_records {
            return Err(BodyError::TooManyRecords(max_records));
        }
        check(line, i + 1)?;
        records.push(line);
    }
    Ok(records)
}

/// The elements of a JSON array, each as written.
fn array_elements(body: &[u8], max_records: usize) -> Result<Vec<&[u8]>, BodyError> {
    let elements: Vec<&serde_json::value::RawValue> =
        serde_json::from_slice(body).map_err(|e| BodyError::BadRecord {
            line: e.line(),
            reason: format!("the array is not valid JSON: {}", bounded(&e.to_string())),
        })?;
    if elements.len() > max_records {
        return Err(BodyError::TooManyRecords(max_records));
    }
    // The elements borrow from `body`: find each one's bytes there, and
    // check each as a record (nesting too deep for the pipeline included).
    let base = body.as_ptr() as usize;
    elements
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let text = raw.get().as_bytes();
            let start = text.as_ptr() as usize - base;
            let record = &body[start..start + text.len()];
            check(record, i + 1)?;
            Ok(record)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::util::body::decompress;
    use crate::sources::util::record_check::{MAX_DEPTH, depth};

    #[test]
    fn ndjson_arrays_and_one_object_become_records() {
        let ndjson = b"{\"a\":1}\n\n{\"a\":2}\r\n";
        assert_eq!(
            records(Some("application/x-ndjson"), ndjson, 10).unwrap(),
            [&b"{\"a\":1}"[..], b"{\"a\":2}"]
        );
        let array = br#" [ {"a":1}, {"b":[1,2]} ] "#;
        assert_eq!(
            records(Some("application/json"), array, 10).unwrap(),
            [&br#"{"a":1}"#[..], br#"{"b":[1,2]}"#]
        );
        let one = b"{\n \"a\": 1\n}";
        assert_eq!(records(Some("application/json"), one, 10).unwrap().len(), 1);
    }

    #[test]
    fn the_first_bad_record_is_named_and_limits_hold() {
        let err = records(None, b"{\"a\":1}\n{\"a\":\n{\"a\":3}", 10).unwrap_err();
        assert!(matches!(err, BodyError::BadRecord { line: 2, .. }), "{err}");
        assert_eq!(
            records(None, b"1\n2\n3", 2).unwrap_err(),
            BodyError::TooManyRecords(2)
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            records(Some("application/json"), deep.as_bytes(), 10),
            Err(BodyError::BadRecord { .. })
        ));
    }

    proptest::proptest! {
        /// Whatever a client sends, decoding answers records or a reason,
        /// never panics, and never returns more than the limits allow.
        #[test]
        fn any_bytes_decode_to_bounded_records_or_a_reason(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            encoding in proptest::sample::select(vec![None, Some("gzip"), Some("zstd"), Some("identity"), Some("br")]),
            json in proptest::prelude::any::<bool>(),
        ) {
            let content_type = json.then_some("application/json");
            match decompress(encoding, &body, 4096) {
                Ok(decoded) => {
                    proptest::prop_assert!(decoded.len() <= 4096);
                    if let Ok(found) = records(content_type, &decoded, 8) {
                        proptest::prop_assert!(found.len() <= 8);
                        for record in found {
                            proptest::prop_assert!(std::str::from_utf8(record).is_ok());
                            proptest::prop_assert!(depth(record) <= MAX_DEPTH);
                        }
                    }
                }
                Err(err) => proptest::prop_assert!(err.to_string().len() < 1024),
            }
        }

        /// Records built of nested arrays and objects, valid or cut short,
        /// are taken or refused whole, the first bad one named.
        #[test]
        fn json_shaped_bodies_are_taken_or_refused_whole(
            lines in proptest::collection::vec("[\\[\\]{}\":,a-c0-9 ]{0,40}", 1..6),
        ) {
            let body = lines.join("\n");
            match records(None, body.as_bytes(), 100) {
                Ok(found) => {
                    for record in found {
                        proptest::prop_assert!(serde_json::from_slice::<serde::de::IgnoredAny>(record).is_ok());
                    }
                }
                Err(BodyError::BadRecord { line, .. }) => {
                    proptest::prop_assert!(line >= 1 && line <= lines.len());
                }
                Err(other) => proptest::prop_assert!(false, "{other}"),
            }
        }
    }
}
