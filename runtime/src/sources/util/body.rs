//! A request body as a source receives it: why one is refused, and its
//! decompression (gzip or zstd) within a bound, so a small bomb cannot
//! grow past the source's body limit.

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
    /// A `Content-Type` the source does not read; the text names what it
    /// reads.
    UnknownContentType {
        given: String,
        expected: &'static str,
    },
    /// The body is not the message the protocol defines.
    Malformed(String),
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
            BodyError::UnknownContentType { given, expected } => {
                write!(
                    f,
                    "Content-Type `{given}` is not supported; send {expected}"
                )
            }
            BodyError::Malformed(why) => write!(f, "the body is not a valid request: {why}"),
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
        Some(other) => return Err(BodyError::UnknownEncoding(client_text(other))),
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

/// Text from a client, bounded and escaped before it is answered or logged.
pub(crate) fn client_text(text: &str) -> String {
    crate::untrusted_text::bound_and_escape(text, 256)
}

#[cfg(test)]
mod tests {
    use super::*;

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
