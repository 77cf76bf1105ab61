//! What differs between HTTP sources: how a body becomes records and how
//! an answer is written. Everything else (listening, limits, credentials,
//! decompression, acknowledgements) is the shared server's.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

use super::body::BodyError;
use crate::acknowledgement::AckReport;

/// A source's wire protocol.
pub(crate) trait RequestProtocol: Send + Sync + 'static {
    /// The records of a decompressed `body`, at most `max_records`, each
    /// one JSON value in UTF-8 nested at most 128 deep (they go into the
    /// pipeline unchecked).
    fn records<'a>(
        &self,
        content_type: Option<&str>,
        body: &'a [u8],
        max_records: usize,
    ) -> Result<Records<'a>, BodyError>;

    /// The 200 answer to a request of `content_type` whose `records`
    /// records were taken, with what the sinks reported (`None` when the
    /// answer does not wait for them).
    fn accepted(
        &self,
        content_type: Option<&str>,
        records: usize,
        report: Option<&AckReport>,
    ) -> Response<Full<Bytes>>;

    /// A refusal with `status`, saying `message`.
    fn refused(
        &self,
        content_type: Option<&str>,
        status: StatusCode,
        message: &str,
    ) -> Response<Full<Bytes>>;
}

/// The records of one request.
pub(crate) enum Records<'a> {
    /// Slices of the request body, as sent.
    Sent(Vec<&'a [u8]>),
    /// Written by the protocol one after another into `bytes`, record `i`
    /// ending at `ends[i]` (one buffer for all, not one per record).
    Written { bytes: Vec<u8>, ends: Vec<usize> },
}

impl Records<'_> {
    /// How many.
    pub(crate) fn len(&self) -> usize {
        match self {
            Records::Sent(records) => records.len(),
            Records::Written { ends, .. } => ends.len(),
        }
    }

    /// Each record's bytes, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let (sent, written) = match self {
            Records::Sent(records) => (Some(records.iter().copied()), None),
            Records::Written { bytes, ends } => {
                let starts = std::iter::once(0).chain(ends.iter().copied());
                (
                    None,
                    Some(
                        starts
                            .zip(ends.iter().copied())
                            .map(|(start, end)| &bytes[start..end]),
                    ),
                )
            }
        };
        sent.into_iter()
            .flatten()
            .chain(written.into_iter().flatten())
    }
}

/// A response with `status`, `content_type` and `body`.
pub(crate) fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}
