//! A request body to records: decompressed within a bound, then read as a
//! JSON array, one JSON value, or NDJSON, every record checked, the first
//! bad one named.

use std::io::Read;

/// Why a body is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Larger than the limit, as sent or decompressed.
    TooLarge(usize),
    /// A `Content-Encoding` the source does not read.
    UnknownEncoding(String),
    /// The compressed body is broken.
    BadCompression(String),
    /// More records than the limit.
    TooManyRecords(usize),
    /// Record `line` (1-based: a line of NDJSON, an element of an array)
    /// is not one JSON value.
    BadRecord { line: usize, reason: String },
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge(limit) => write!(f, "the body is larger than {limit} bytes"),
            BodyError::UnknownEncoding(name) => write!(
                f,
                "Content-Encoding `{name}` is not supported; send gzip, zstd or an uncompressed body"
            ),
            BodyError::BadCompression(why) => write!(f, "the compressed body is broken: {why}"),
            BodyError::TooManyRecords(limit) => {
                write!(f, "more than {limit} records in one request; send fewer")
            }
            BodyError::BadRecord { line, reason } => write!(f, "record {line}: {reason}"),
        }
    }
}

/// The body decompressed as `encoding` says, at most `max` bytes.
pub(crate) fn decompress(
    encoding: Option<&str>,
    body: &[u8],
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    let reader: Box<dyn Read + '_> = match encoding.map(str::trim) {
        None | Some("") | Some("identity") => return Ok(body.to_vec()),
        Some("gzip") | Some("x-gzip") => Box::new(flate2::read::GzDecoder::new(body)),
        Some("zstd") => Box::new(
            zstd::stream::read::Decoder::new(body)
                .map_err(|e| BodyError::BadCompression(e.to_string()))?,
        ),
        Some(other) => return Err(BodyError::UnknownEncoding(bounded(other))),
    };
    let mut out = Vec::new();
    // One byte past the limit tells "too large" from "exactly the limit".
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::BadCompression(e.to_string()))?;
    if out.len() > max {
        return Err(BodyError::TooLarge(max));
    }
    Ok(out)
}

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

/// Deepest nesting a record may have: what `serde_json` parses by default,
/// so every sink can read every record it is given.
const MAX_DEPTH: usize = 128;

/// Checks that `record` is exactly one JSON value in UTF-8, nested at
/// most [`MAX_DEPTH`] deep.
fn check(record: &[u8], line: usize) -> Result<(), BodyError> {
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
fn depth(json: &[u8]) -> usize {
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

/// Text from a client, bounded and escaped before it is answered or logged.
fn bounded(text: &str) -> String {
    crate::untrusted_text::bound_and_escape(text, 256)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![b' '; 50 << 20]).unwrap();
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 200 << 10);
        assert_eq!(
            decompress(Some("gzip"), &bomb, 1 << 20).unwrap_err(),
            BodyError::TooLarge(1 << 20)
        );
        assert!(matches!(
            decompress(Some("br"), b"x", 10),
            Err(BodyError::UnknownEncoding(_))
        ));
        let small = zstd::encode_all(&b"{\"a\":1}"[..], 3).unwrap();
        assert_eq!(decompress(Some("zstd"), &small, 100).unwrap(), b"{\"a\":1}");
    }
}
