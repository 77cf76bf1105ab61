//! What differs between HTTP sources: how a body becomes records and how
//! an answer is written. Everything else (listening, limits, credentials,
//! decompression, acknowledgements) is the shared server's.

use std::borrow::Cow;

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
    ) -> Result<Vec<Cow<'a, [u8]>>, BodyError>;

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
