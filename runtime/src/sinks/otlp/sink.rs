//! The running `otlp` sink: records as OTLP log records, posted to an
//! OTLP/HTTP logs endpoint, with the answer read the way the OTLP
//! specification says (partial success is never sent again; only 429,
//! 502, 503 and 504 are retried).

use prost::Message;

use prost::encoding::{encode_varint, encoded_len_varint};

use super::log_mapping::LogMapping;
use super::log_record_writer::read_log_record;
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
        let (body, content_type) = match self.options.encoding {
            OtlpEncoding::Protobuf => (
                self.protobuf_body(chunk, observed),
                "application/x-protobuf",
            ),
            OtlpEncoding::Json => (
                request_json(&self.export_request(chunk, observed)),
                "application/json",
            ),
        };
        EncodedRequest {
            body: body.into(),
            content_type,
            records: chunk.len(),
        }
    }

    /// The export request of `chunk` as messages. Records are grouped by
    /// the resource and scope they name (most batches name one, or none);
    /// each group keeps its records' order.
    fn export_request(&self, chunk: &Batch, observed: u64) -> ExportLogsServiceRequest {
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
        ExportLogsServiceRequest {
            resource_logs: groups
                .into_iter()
                .map(|(resource, scope, log_records)| ResourceLogs {
                    resource: Some(self.resource(resource)),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(scope.unwrap_or_else(default_scope)),
                        log_records,
                    }],
                })
                .collect(),
        }
    }

    /// The protobuf bytes of [`export_request`](Self::export_request),
    /// written straight from the records where their shape allows
    /// (`log_record_writer.rs`): each log record is written once, into
    /// its group, and only the few outer messages go through prost.
    fn protobuf_body(&self, chunk: &Batch, observed: u64) -> Vec<u8> {
        let mapping = &self.options.mapping;
        let direct = mapping.has_distinct_fields();
        // Each group's resource and scope, and its log records already
        // written as `ScopeLogs` fields.
        type Group = (Vec<KeyValue>, Option<InstrumentationScope>, Vec<u8>);
        let mut groups: Vec<Group> = Vec::new();
        let group_of = |groups: &mut Vec<Group>, resource, scope| match groups
            .iter()
            .position(|(r, s, _)| *r == resource && *s == scope)
        {
            Some(at) => at,
            None => {
                groups.push((resource, scope, Vec::with_capacity(chunk.bytes().len() * 2)));
                groups.len() - 1
            }
        };
        let mut plain_group = None;
        for raw in chunk.records() {
            if direct && let Some(fields) = read_log_record(mapping, raw, observed) {
                let at = match plain_group {
                    Some(at) => at,
                    None => *plain_group.insert(group_of(&mut groups, Vec::new(), None)),
                };
                fields.write_entry(&mut groups[at].2);
                continue;
            }
            let mapped = mapping.log_record(raw, observed);
            let at = group_of(&mut groups, mapped.resource, mapped.scope);
            let records = &mut groups[at].2;
            records.push(0x12);
            encode_varint(mapped.log.encoded_len() as u64, records);
            mapped
                .log
                .encode(records)
                .expect("a Vec grows to hold any message");
        }
        let mut out = Vec::with_capacity(groups.iter().map(|g| g.2.len() + 64).sum());
        for (resource, scope, records) in groups {
            let resource = self.resource(resource);
            let scope = scope.unwrap_or_else(default_scope);
            let (resource_len, scope_len) = (resource.encoded_len(), scope.encoded_len());
            let scope_logs_len =
                1 + encoded_len_varint(scope_len as u64) + scope_len + records.len();
            let resource_logs_len = 1
                + encoded_len_varint(resource_len as u64)
                + resource_len
                + 1
                + encoded_len_varint(scope_logs_len as u64)
                + scope_logs_len;
            // ExportLogsServiceRequest.resource_logs
            out.push(0x0a);
            encode_varint(resource_logs_len as u64, &mut out);
            // ResourceLogs.resource
            out.push(0x0a);
            resource
                .encode_length_delimited(&mut out)
                .expect("a Vec grows to hold any message");
            // ResourceLogs.scope_logs
            out.push(0x12);
            encode_varint(scope_logs_len as u64, &mut out);
            // ScopeLogs.scope, then its log records
            out.push(0x0a);
            scope
                .encode_length_delimited(&mut out)
                .expect("a Vec grows to hold any message");
            out.extend_from_slice(&records);
        }
        out
    }
}

/// The scope of records that name none.
fn default_scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "sinkbox".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        attributes: Vec::new(),
    }
}

impl OtlpSink {
    /// The resource of a group: the records' own attributes, then the
    /// configured ones they do not set (the record's origin knows itself
    /// best).
    fn resource(&self, mut own: Vec<KeyValue>) -> Resource {
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
        Resource { attributes: own }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::otlp::log_mapping::tests::{mapping, record_text};
    use crate::sinks::otlp::log_record_writer::read_log_record;
    use proptest::prelude::*;

    fn sink(mapping: LogMapping) -> OtlpSink {
        OtlpSink::new(OtlpSinkOptions {
            http: HttpOptions::new("http://127.0.0.1:9/v1/logs".parse().unwrap()),
            encoding: OtlpEncoding::Protobuf,
            resource: vec![("service.name".into(), "app".into())],
            mapping,
        })
    }

    /// The written body against prost's encoding of the mapped request.
    fn same_bytes(sink: &OtlpSink, records: &[&str]) -> Result<(), TestCaseError> {
        let batch = Batch::from_records(records.iter().map(|r| r.as_bytes()), 0);
        prop_assert_eq!(
            sink.protobuf_body(&batch, 77),
            sink.export_request(&batch, 77).encode_to_vec()
        );
        Ok(())
    }

    #[test]
    fn common_records_are_written_directly_and_as_prost_writes_them() {
        let sink = sink(LogMapping::default());
        let records = [
            r#"{"timestamp":"2026-11-22T10:00:00Z","level":"info","message":"request served","route":"/api/items","id":"00000001"}"#,
            r#" { "level" : 9 , "message" : null , "n" : -0 , "big" : 123456789012345678901 , "f" : 1.5e3 } "#,
            r#"{"message":"m","http":{"status":200,"a":[1,"x",{"b":null}]},"ok":true,"no":false,"e":"tab\tand \u00e9"}"#,
            r#"{"timestamp":1764583200123,"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174","message":""}"#,
            r#"{"timestamp":"yesterday","level":30,"trace_id":"00","k":"v"}"#,
            r#"{}"#,
        ];
        for record in records {
            assert!(
                read_log_record(&LogMapping::default(), record.as_bytes(), 77).is_some(),
                "{record}"
            );
        }
        same_bytes(&sink, &records).unwrap();
    }

    #[test]
    fn other_shapes_take_the_full_mapping_and_give_the_same_bytes() {
        let sink = sink(LogMapping::default());
        let records = [
            r#"{"a":1,"a":2,"message":"m"}"#,
            r#"{"message":"m","message":"again"}"#,
            r#"{"resource":{"service.name":"x"},"message":"m"}"#,
            r#"{"scope":{"name":"lib"},"message":"m"}"#,
            r#"[1,2]"#,
            r#"{"message":"m"} trailing"#,
            "{\"message\":\"raw\ttab\"}",
            r#"{"message":"m",}"#,
            r#"{"n":01}"#,
        ];
        for record in records {
            assert!(
                read_log_record(&LogMapping::default(), record.as_bytes(), 77).is_none(),
                "{record}"
            );
        }
        same_bytes(&sink, &records).unwrap();
        let invalid_utf8 = Batch::from_records([&b"{\"message\":\"\xff\"}"[..]], 0);
        assert_eq!(
            sink.protobuf_body(&invalid_utf8, 1),
            sink.export_request(&invalid_utf8, 1).encode_to_vec()
        );
    }

    proptest! {
        #[test]
        fn any_batch_is_written_as_prost_writes_its_request(
            records in proptest::collection::vec(record_text(), 1..6),
            mapping in mapping(),
        ) {
            let records: Vec<&str> = records.iter().map(String::as_str).collect();
            same_bytes(&sink(mapping), &records)?;
        }
    }
}
