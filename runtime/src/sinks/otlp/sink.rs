//! The running `otlp` sink: records as OTLP log records, posted to an
//! OTLP/HTTP logs endpoint, with the answer read the way the OTLP
//! specification says (partial success is never sent again; only 429,
//! 502, 503 and 504 are retried).

use prost::Message;

use super::log_mapping::LogMapping;
use super::otlp_json::{partial_success_json, request_json};
use super::proto::{
    AnyValue, ExportLogsServiceRequest, ExportLogsServiceResponse, InstrumentationScope, KeyValue,
    LogRecord, Resource, ResourceLogs, ScopeLogs, Status, any_value,
};
use crate::batch::Batch;
use crate::sink::{Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::breaker::BreakerState;
use crate::sinks::util::http::client::HttpAnswer;
use crate::sinks::util::http::delivery::{EncodedRequest, HttpDelivery};
use crate::sinks::util::http::options::HttpOptions;
use crate::sinks::util::http::request_chunks::request_chunks;
use crate::sinks::util::http::response_class::{
    ResponseClass, answer_reason, bounded_text, parse_retry_after,
};
use crate::sinks::util::record_time::now_unix_nanos;

/// How a request body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpEncoding {
    /// Binary protobuf, `application/x-protobuf`.
    Protobuf,
    /// OTLP/JSON, `application/json`.
    Json,
}

/// The `otlp` sink's options.
#[derive(Clone, Debug)]
pub struct OtlpSinkOptions {
    /// How to reach the collector; the endpoint is the logs URL.
    pub http: HttpOptions,
    /// Body encoding.
    pub encoding: OtlpEncoding,
    /// Attributes of the resource every record is reported under, such as
    /// `service.name`.
    pub resource: Vec<(String, String)>,
    /// Which fields fill which slots.
    pub mapping: LogMapping,
}

/// Exports records as OTLP logs over HTTP, to an OpenTelemetry Collector
/// or any OTLP/HTTP receiver.
pub struct OtlpSink {
    options: OtlpSinkOptions,
    delivery: HttpDelivery,
}

impl OtlpSink {
    /// A sink with `options`; nothing connects until the first write.
    pub fn new(options: OtlpSinkOptions) -> Self {
        Self {
            delivery: HttpDelivery::new(options.http.clone(), None),
            options,
        }
    }

    /// The breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.delivery.breaker_state()
    }

    /// Records the collector accepted and then said it dropped (partial
    /// success).
    pub fn dropped_by_collector(&self) -> u64 {
        self.delivery.dropped_by_server()
    }

    fn request(&self, chunk: &Batch) -> EncodedRequest {
        let observed = now_unix_nanos();
        // Records are grouped by the resource and scope they name (most
        // batches name one, or none); each group keeps its records' order.
        let mut groups: Vec<(Vec<KeyValue>, Option<InstrumentationScope>, Vec<LogRecord>)> =
            Vec::new();
        for raw in chunk.records() {
            let mapped = self.options.mapping.log_record(raw, observed);
            let group = groups.iter().position(|(resource, scope, _)| {
                *resource == mapped.resource && *scope == mapped.scope
            });
            match group {
                Some(at) => groups[at].2.push(mapped.log),
                None => groups.push((mapped.resource, mapped.scope, vec![mapped.log])),
            }
        }
        let request = ExportLogsServiceRequest {
            resource_logs: groups
                .into_iter()
                .map(|(resource, scope, log_records)| ResourceLogs {
                    resource: Some(Resource {
                        attributes: self.resource_attributes(resource),
                    }),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(scope.unwrap_or_else(|| InstrumentationScope {
                            name: "sinkbox".into(),
                            version: env!("CARGO_PKG_VERSION").into(),
                            attributes: Vec::new(),
                        })),
                        log_records,
                    }],
                })
                .collect(),
        };
        let (body, content_type) = match self.options.encoding {
            OtlpEncoding::Protobuf => (request.encode_to_vec(), "application/x-protobuf"),
            OtlpEncoding::Json => (request_json(&request), "application/json"),
        };
        EncodedRequest {
            body: body.into(),
            content_type,
            records: chunk.len(),
        }
    }
}

impl OtlpSink {
    /// A record's own resource attributes, then the configured ones it
    /// does not set (the record's origin knows itself best).
    fn resource_attributes(&self, mut own: Vec<KeyValue>) -> Vec<KeyValue> {
        for (key, value) in &self.options.resource {
            if !own.iter().any(|kv| kv.key == *key) {
                own.push(KeyValue {
                    key: key.clone(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(value.clone())),
                    }),
                });
            }
        }
        own
    }
}

/// What an OTLP/HTTP answer means for the `records` of its request.
fn interpret(encoding: OtlpEncoding, answer: &HttpAnswer, records: u32) -> ResponseClass {
    match answer.status {
        200..=299 => {
            let partial = match encoding {
                OtlpEncoding::Protobuf => ExportLogsServiceResponse::decode(&answer.body[..])
                    .ok()
                    .and_then(|response| response.partial_success)
                    .map(|p| (p.rejected_log_records, p.error_message)),
                OtlpEncoding::Json => partial_success_json(&answer.body),
            };
            match partial {
                Some((rejected, message)) if rejected > 0 || !message.is_empty() => {
                    // A negative count is a broken collector: nothing rejected.
                    let rejected = rejected.max(0);
                    let reason = format!(
                        "partial success: the collector rejected {rejected} records: {}",
                        bounded_text(message.as_bytes())
                    );
                    if rejected as u64 >= u64::from(records) {
                        // All of them: dead letters, with the collector's words.
                        ResponseClass::Rejected(reason)
                    } else if rejected > 0 {
                        ResponseClass::PartlyDropped {
                            dropped: rejected as u64,
                            reason,
                        }
                    } else {
                        // A warning only: everything was taken.
                        ResponseClass::Warned(bounded_text(message.as_bytes()))
                    }
                }
                _ => ResponseClass::Accepted,
            }
        }
        429 | 502 | 503 | 504 => ResponseClass::Retryable {
            reason: status_reason(answer),
            retry_after: answer.retry_after.as_deref().and_then(parse_retry_after),
        },
        _ => ResponseClass::Rejected(status_reason(answer)),
    }
}

/// The collector's `google.rpc.Status` message when it sent one, else its
/// answer as text.
fn status_reason(answer: &HttpAnswer) -> String {
    let message = Status::decode(&answer.body[..])
        .ok()
        .map(|status| status.message)
        .filter(|message| !message.is_empty())
        .or_else(|| {
            serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()?
                .get("message")?
                .as_str()
                .map(str::to_owned)
        });
    match message {
        Some(message) => format!(
            "HTTP {}: {}",
            answer.status,
            bounded_text(message.as_bytes())
        ),
        None => answer_reason(answer.status, &answer.body),
    }
}

impl Sink for OtlpSink {
    fn start(&mut self) -> Result<(), SinkError> {
        self.delivery.start()
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let http = self.delivery.options();
        let requests: Vec<EncodedRequest> = request_chunks(batch, http.max_events, http.max_bytes)
            .iter()
            .map(|chunk| self.request(chunk))
            .collect();
        let encoding = self.options.encoding;
        self.delivery
            .deliver(requests, &move |answer, records| {
                interpret(encoding, answer, records)
            })
            .outcome
    }

    fn health(&mut self) -> Health {
        self.delivery.health()
    }
}
