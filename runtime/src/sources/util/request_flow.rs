//! One request from arrival to answer: path, method, credentials, the
//! body read within its limits, decoded on a blocking thread, emitted
//! with an end-to-end acknowledgement, and answered once that says the
//! records are safe (or once they are queued, with `ack = "received"`).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::auth::authorized;
use super::body::{BodyError, decompress};
use super::http_listener::Shared;
use super::record_metadata::with_metadata;
use super::request_protocol::Records;
use super::server_options::AckMode;
use super::stats::Counters;

/// The answer to one request.
pub(crate) async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    peer: std::net::SocketAddr,
) -> Response<Full<Bytes>> {
    let shared = &shared;
    let options = &shared.options;
    let counters = &shared.counters;
    let protocol = &*shared.protocol;
    let content_type = request
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let refuse = |status, message: &str| protocol.refused(content_type.as_deref(), status, message);
    if request.uri().path() != options.path {
        return refuse(StatusCode::NOT_FOUND, "no such path");
    }
    Counters::bump(&counters.requests, 1);
    if request.method() != hyper::Method::POST {
        Counters::bump(&counters.bad_requests, 1);
        let mut response = refuse(StatusCode::METHOD_NOT_ALLOWED, "send records with POST");
        response.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("POST"),
        );
        return response;
    }
    if !authorized(options.auth.as_ref(), &request) {
        Counters::bump(&counters.unauthorized, 1);
        // No detail: a wrong token and a missing one look the same.
        return refuse(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let encoding = request
        .headers()
        .get(hyper::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let limit = options.max_body_bytes;
    let collected = tokio::time::timeout(
        options.body_timeout,
        Limited::new(request.into_body(), limit).collect(),
    )
    .await;
    let body = match collected {
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(_)) => {
            Counters::bump(&counters.bad_requests, 1);
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &BodyError::TooLarge(limit).to_string(),
            );
        }
        Err(_) => {
            Counters::bump(&counters.bad_requests, 1);
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                &format!("the body did not arrive within {:?}", options.body_timeout),
            );
        }
    };
    Counters::bump(&counters.bytes, body.len() as u64);
    let pipeline = shared.pipeline.clone();
    let (max_records, mode) = (options.max_records, options.ack);
    let decoding = Arc::clone(shared);
    let decoding_type = content_type.clone();
    // Decoding and the pipeline's hand-off block: off the async workers.
    let emitted = tokio::task::spawn_blocking(move || {
        let decoded = decompress(encoding.as_deref(), &body, limit)?;
        let mut records =
            decoding
                .protocol
                .records(decoding_type.as_deref(), &decoded, max_records)?;
        if let Some(field) = &decoding.options.metadata_field {
            let origin = serde_json::json!({ "source": decoding.name, "peer": peer.to_string() });
            records = with_origin(&records, field, &origin);
        }
        let count = records.len();
        let ack = pipeline
            // The protocol checked every record already.
            .try_emit_checked_acknowledged(records.iter())
            .map_err(|e| Emit::Refused(e.to_string()))?;
        Ok::<_, Emit>((count, ack, Instant::now()))
    });
    let (count, ack, queued) = match tokio::time::timeout(options.ack_timeout, emitted).await {
        Ok(Ok(Ok(emitted))) => emitted,
        Ok(Ok(Err(Emit::Body(err)))) => {
            Counters::bump(&counters.bad_requests, 1);
            let status = match err {
                BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::UnknownEncoding(_) | BodyError::UnknownContentType { .. } => {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE
                }
                _ => StatusCode::BAD_REQUEST,
            };
            return refuse(status, &err.to_string());
        }
        Ok(Ok(Err(Emit::Refused(why)))) => return unavailable(shared, &content_type, &why),
        Ok(Err(_)) => {
            return unavailable(shared, &content_type, "the request could not be handled");
        }
        Err(_) => {
            return unavailable(
                shared,
                &content_type,
                "the pipeline did not take the records in time (its queues are full)",
            );
        }
    };
    Counters::bump(&counters.records, count as u64);
    let report = match mode {
        AckMode::Received => None,
        AckMode::Delivered => {
            let wait = options.ack_timeout;
            match tokio::task::spawn_blocking(move || ack.wait(wait)).await {
                Ok(Some(report)) => {
                    counters.acknowledged_after(queued.elapsed());
                    Some(report)
                }
                _ => {
                    return unavailable(
                        shared,
                        &content_type,
                        "the records were not settled in time; they stay in the pipeline, and a retry may deliver them twice",
                    );
                }
            }
        }
    };
    if let Some(report) = &report
        && report.lost > 0
    {
        return unavailable(
            shared,
            &content_type,
            &format!(
                "{} records were lost by a sink; send them again",
                report.lost
            ),
        );
    }
    Counters::bump(&counters.accepted, 1);
    protocol.accepted(content_type.as_deref(), count, report.as_ref())
}

/// `records`, each object gaining `field`: `origin`.
fn with_origin(records: &Records, field: &str, origin: &serde_json::Value) -> Records<'static> {
    let mut bytes = Vec::new();
    let mut ends = Vec::with_capacity(records.len());
    for record in records.iter() {
        bytes.extend_from_slice(&with_metadata(record, field, origin));
        ends.push(bytes.len());
    }
    Records::Written { bytes, ends }
}

/// Why records did not make it into the pipeline.
enum Emit {
    Body(BodyError),
    Refused(String),
}

impl From<BodyError> for Emit {
    fn from(err: BodyError) -> Self {
        Emit::Body(err)
    }
}

/// 503 with `Retry-After`: the client should send the request again.
fn unavailable(shared: &Shared, content_type: &Option<String>, why: &str) -> Response<Full<Bytes>> {
    Counters::bump(&shared.counters.unavailable, 1);
    let mut response = shared.protocol.refused(
        content_type.as_deref(),
        StatusCode::SERVICE_UNAVAILABLE,
        why,
    );
    response.headers_mut().insert(
        hyper::header::RETRY_AFTER,
        hyper::header::HeaderValue::from_static("1"),
    );
    response
}
