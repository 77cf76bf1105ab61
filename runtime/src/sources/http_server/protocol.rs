//! The `http_server` source's wire protocol: JSON records in, JSON
//! answers out (`{"records": N, ...}` or `{"error": "..."}`).

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

use super::json_records::records;
use crate::acknowledgement::AckReport;
use crate::sources::util::body::BodyError;
use crate::sources::util::request_protocol::{Records, RequestProtocol, response};

/// NDJSON, a JSON array or one JSON value per request.
pub(crate) struct JsonRecords;

impl RequestProtocol for JsonRecords {
    fn records<'a>(
        &self,
        content_type: Option<&str>,
        body: &'a [u8],
        max_records: usize,
    ) -> Result<Records<'a>, BodyError> {
        records(content_type, body, max_records).map(Records::Sent)
    }

    fn accepted(
        &self,
        _: Option<&str>,
        records: usize,
        report: Option<&AckReport>,
    ) -> Response<Full<Bytes>> {
        let body = match report {
            Some(report) => serde_json::json!({
                "records": records,
                "dead_lettered": report.dead_lettered,
                "dropped": report.dropped,
            }),
            None => serde_json::json!({ "records": records }),
        };
        response(StatusCode::OK, "application/json", body.to_string())
    }

    fn refused(&self, _: Option<&str>, status: StatusCode, message: &str) -> Response<Full<Bytes>> {
        let body = serde_json::json!({ "error": message });
        response(status, "application/json", body.to_string())
    }
}
