//! The `otlp` source's wire protocol, as OTLP/HTTP defines it for logs:
//! `ExportLogsServiceRequest` in protobuf or JSON in, the answer in the
//! request's own encoding: `ExportLogsServiceResponse` (with
//! `partial_success` when some records were not delivered) or a
//! `google.rpc.Status` for a refusal.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use prost::Message;

use super::log_transcoder::{Problem, Written, write_records};
use super::request_json::request_from_json;
use crate::acknowledgement::AckReport;
use crate::sinks::LogMapping;
use crate::sinks::otlp::proto::{ExportLogsPartialSuccess, ExportLogsServiceResponse, Status};
use crate::sources::util::body::{BodyError, client_text};
use crate::sources::util::request_protocol::{Records, RequestProtocol, response};

/// The two encodings OTLP/HTTP allows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// The encoding a `Content-Type` names, if it is one OTLP allows.
fn encoding(content_type: Option<&str>) -> Option<Encoding> {
    let media = content_type?.split(';').next()?.trim();
    if media.eq_ignore_ascii_case("application/x-protobuf") {
        Some(Encoding::Protobuf)
    } else if media.eq_ignore_ascii_case("application/json") {
        Some(Encoding::Json)
    } else {
        None
    }
}

/// OTLP/HTTP logs, each `LogRecord` mapped to a record by `mapping`.
pub(crate) struct OtlpLogs {
    pub(crate) mapping: LogMapping,
}

impl RequestProtocol for OtlpLogs {
    fn records<'a>(
        &self,
        content_type: Option<&str>,
        body: &'a [u8],
        max_records: usize,
    ) -> Result<Records<'a>, BodyError> {
        // OTLP/JSON is read into the messages and written back as
        // protobuf, so both encodings are mapped by the one transcoder.
        let json_as_protobuf;
        let protobuf = match encoding(content_type) {
            Some(Encoding::Protobuf) => body,
            Some(Encoding::Json) => {
                let request = request_from_json(body).map_err(|e| {
                    BodyError::Malformed(format!(
                        "not an OTLP/JSON ExportLogsServiceRequest: {}",
                        client_text(&e)
                    ))
                })?;
                json_as_protobuf = request.encode_to_vec();
                &json_as_protobuf
            }
            None => {
                return Err(BodyError::UnknownContentType {
                    given: client_text(content_type.unwrap_or("(none)")),
                    expected: "application/x-protobuf or application/json",
                });
            }
        };
        match write_records(&self.mapping, protobuf, max_records) {
            Ok(Written { bytes, ends }) => {
                if bytes.is_empty() {
                    Ok(Records::Sent(Vec::new()))
                } else {
                    Ok(Records::Written { bytes, ends })
                }
            }
            Err(Problem::TooMany) => Err(BodyError::TooManyRecords(max_records)),
            Err(Problem::Malformed(why)) => Err(BodyError::Malformed(format!(
                "not an ExportLogsServiceRequest: {}",
                client_text(&why)
            ))),
        }
    }

    fn accepted(
        &self,
        content_type: Option<&str>,
        _records: usize,
        report: Option<&AckReport>,
    ) -> Response<Full<Bytes>> {
        // Records a sink dead-lettered or dropped were not delivered, and
        // sending them again would not help: OTLP calls them rejected.
        let partial_success = report
            .map(|r| (r.dead_lettered + r.dropped, r))
            .filter(|(rejected, _)| *rejected > 0)
            .map(|(rejected, r)| ExportLogsPartialSuccess {
                rejected_log_records: i64::try_from(rejected).unwrap_or(i64::MAX),
                error_message: format!(
                    "{} records went to dead letters (kept for replay) and {} were dropped by an overflow policy",
                    r.dead_lettered, r.dropped
                ),
            });
        let answer = ExportLogsServiceResponse { partial_success };
        match encoding(content_type) {
            Some(Encoding::Json) => {
                let body = match &answer.partial_success {
                    Some(p) => serde_json::json!({"partialSuccess": {
                        "rejectedLogRecords": p.rejected_log_records.to_string(),
                        "errorMessage": p.error_message,
                    }}),
                    None => serde_json::json!({}),
                };
                response(StatusCode::OK, "application/json", body.to_string())
            }
            _ => response(
                StatusCode::OK,
                "application/x-protobuf",
                answer.encode_to_vec(),
            ),
        }
    }

    fn refused(
        &self,
        content_type: Option<&str>,
        status: StatusCode,
        message: &str,
    ) -> Response<Full<Bytes>> {
        // google.rpc.Code for the HTTP status, as gRPC maps them.
        let code = match status {
            StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => 3,
            StatusCode::UNAUTHORIZED => 16,
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => 12,
            StatusCode::PAYLOAD_TOO_LARGE => 8,
            StatusCode::REQUEST_TIMEOUT => 4,
            _ => 14,
        };
        let status_message = Status {
            code,
            message: message.to_owned(),
        };
        match encoding(content_type) {
            Some(Encoding::Protobuf) => response(
                status,
                "application/x-protobuf",
                status_message.encode_to_vec(),
            ),
            _ => response(
                status,
                "application/json",
                serde_json::json!({"code": code, "message": message}).to_string(),
            ),
        }
    }
}
