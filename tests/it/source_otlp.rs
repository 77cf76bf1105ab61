//! The `otlp` source with OTLP/HTTP requests built from the published
//! schema (`otlp_receiver::proto`): every field lands where
//! `docs/sources.md` says, otlp → sinkbox → otlp gives back what was
//! sent, refusals are `google.rpc.Status` messages in the request's
//! encoding, and records a sink dead-letters come back as
//! `partial_success`.

use std::io::Write;
use std::time::Duration;

use prost::Message;
use serde_json::{Value, json};
use sinkbox::SinkSpec;
use sinkbox::sources::RunningSource;
use sinkbox::sources::otlp::OtlpSourceOptions;

use crate::otlp_receiver::proto::{self, Value as Any};
use crate::otlp_receiver::{OtlpReceiver, status_answer};
use crate::support::{Recorder, RecordingSink};

fn options() -> OtlpSourceOptions {
    OtlpSourceOptions::new("127.0.0.1:0".parse().unwrap())
}

fn text(s: &str) -> Option<proto::AnyValue> {
    Some(proto::AnyValue {
        value: Some(Any::S(s.into())),
    })
}

fn attribute(key: &str, value: Option<proto::AnyValue>) -> proto::KeyValue {
    proto::KeyValue {
        key: key.into(),
        value,
    }
}

/// Two services, one with a scope and two log records, the other with a
/// record whose body is a map and whose severity is only a number.
fn request() -> proto::ExportLogsServiceRequest {
    proto::ExportLogsServiceRequest {
        resource_logs: vec![
            proto::ResourceLogs {
                resource: Some(proto::Resource {
                    attributes: vec![attribute("service.name", text("checkout"))],
                    ..Default::default()
                }),
                scope_logs: vec![proto::ScopeLogs {
                    scope: Some(proto::InstrumentationScope {
                        name: "shop.cart".into(),
                        version: "2.1".into(),
                    }),
                    log_records: vec![
                        proto::LogRecord {
                            time_unix_nano: 1_764_583_200_123_456_789,
                            observed_time_unix_nano: 1_764_583_201_000_000_000,
                            severity_number: 13,
                            severity_text: "WARN".into(),
                            body: text("stock low"),
                            attributes: vec![
                                attribute(
                                    "items",
                                    Some(proto::AnyValue {
                                        value: Some(Any::I(3)),
                                    }),
                                ),
                                attribute("message", text("an attribute named like the body")),
                            ],
                            trace_id: vec![0x5b; 16],
                            span_id: vec![0xee; 8],
                            ..Default::default()
                        },
                        proto::LogRecord {
                            observed_time_unix_nano: 1_764_583_202_000_000_000,
                            severity_number: 9,
                            severity_text: "info".into(),
                            body: text("second"),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            },
            proto::ResourceLogs {
                resource: Some(proto::Resource {
                    attributes: vec![attribute("service.name", text("billing"))],
                    ..Default::default()
                }),
                scope_logs: vec![proto::ScopeLogs {
                    log_records: vec![proto::LogRecord {
                        severity_number: 17,
                        body: Some(proto::AnyValue {
                            value: Some(Any::Kv(proto::KeyValueList {
                                values: vec![attribute(
                                    "ok",
                                    Some(proto::AnyValue {
                                        value: Some(Any::B(false)),
                                    }),
                                )],
                            })),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    }
}

/// Posts `body` to the source's logs path; the status, content type and
/// body of the answer.
fn post(
    source: &RunningSource,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::blocking::Body>,
) -> (u16, String, Vec<u8>) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut request = client
        .post(format!("http://{}{path}", source.local_addr()))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.bytes().unwrap().to_vec())
}

const PROTOBUF: (&str, &str) = ("content-type", "application/x-protobuf");

#[test]
fn protobuf_logs_become_records_mapped_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let p = crate::support::pipeline_of(
        dir.path(),
        10_000,
        vec![SinkSpec::new("out", RecordingSink::new(&recorder))],
    )
    .unwrap();
    let source = sinkbox::sources::otlp::start("otel", p.clone(), options()).unwrap();
    let (status, content_type, body) =
        post(&source, "/v1/logs", &[PROTOBUF], request().encode_to_vec());
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/x-protobuf")
    );
    let answer = proto::ExportLogsServiceResponse::decode(&body[..]).unwrap();
    assert_eq!(answer.partial_success, None, "everything was delivered");
    let stats = source.stats();
    assert_eq!((stats.requests, stats.accepted, stats.records), (1, 1, 3));
    assert_eq!(stats.acknowledged, 1);
    source.stop();
    p.shutdown();
    let records: Vec<Value> = recorder
        .records
        .lock()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    assert_eq!(
        records,
        [
            json!({
                "timestamp": "2025-12-01T10:00:00.123456789Z", "level": "WARN",
                "message": "stock low",
                "trace_id": "5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b", "span_id": "eeeeeeeeeeeeeeee",
                "items": 3, "attributes": {"message": "an attribute named like the body"},
                "resource": {"service.name": "checkout"},
                "scope": {"name": "shop.cart", "version": "2.1"}
            }),
            json!({
                "timestamp": "2025-12-01T10:00:02Z", "level": "info", "message": "second",
                "resource": {"service.name": "checkout"},
                "scope": {"name": "shop.cart", "version": "2.1"}
            }),
            json!({"level": 17, "message": {"ok": false}, "resource": {"service.name": "billing"}}),
        ]
    );
}

#[test]
fn otlp_json_with_gzip_arrives_and_is_answered_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let p = crate::support::pipeline_of(
        dir.path(),
        10_000,
        vec![SinkSpec::new("out", RecordingSink::new(&recorder))],
    )
    .unwrap();
    let source = sinkbox::sources::otlp::start("otel", p.clone(), options()).unwrap();
    let body = json!({"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "web"}}]},
        "scopeLogs": [{"logRecords": [
            {"timeUnixNano": "1764583200000000000", "severityNumber": 9, "severityText": "INFO",
             "body": {"stringValue": "hello"}, "traceId": "5b8efff798038103d269b633813fc60c",
             "attributes": [{"key": "n", "value": {"intValue": "7"}},
                            {"key": "raw", "value": {"bytesValue": "aGk="}}]}]}]}]});
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(body.to_string().as_bytes()).unwrap();
    let (status, content_type, answer) = post(
        &source,
        "/v1/logs",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        gzip.finish().unwrap(),
    );
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(serde_json::from_slice::<Value>(&answer).unwrap(), json!({}));
    source.stop();
    p.shutdown();
    let record: Value = serde_json::from_str(&recorder.records.lock().unwrap()[0]).unwrap();
    assert_eq!(
        record,
        json!({"timestamp": "2025-12-01T10:00:00Z", "level": "INFO", "message": "hello",
               "trace_id": "5b8efff798038103d269b633813fc60c", "n": 7, "raw": "aGk=",
               "resource": {"service.name": "web"}})
    );
}

/// One log as the receiver saw it, without the time it was observed
/// (the sink stamps its own).
fn comparable(log: &crate::otlp_receiver::OtlpLog) -> Value {
    json!({
        "resource": log.resource, "scope": log.scope, "time": log.time_unix_nano,
        "severity": [log.severity_number, log.severity_text], "body": log.body,
        "attributes": log.attributes, "trace_id": log.trace_id, "span_id": log.span_id,
    })
}

#[test]
fn otlp_in_and_otlp_out_gives_back_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    // What the request says, as the receiver reads it: sent to it directly.
    let direct = OtlpReceiver::start();
    reqwest::blocking::Client::new()
        .post(format!("{}/v1/logs", direct.endpoint()))
        .header(PROTOBUF.0, PROTOBUF.1)
        .body(request().encode_to_vec())
        .send()
        .unwrap();
    // The same request through sinkbox: otlp source → otlp sink.
    let relayed = OtlpReceiver::start();
    let p = crate::support::network_pipeline(
        dir.path(),
        "otlp",
        "collector",
        &relayed.endpoint(),
        10_000,
        "",
    );
    let source = sinkbox::sources::otlp::start("otel", p.clone(), options()).unwrap();
    let (status, _, _) = post(&source, "/v1/logs", &[PROTOBUF], request().encode_to_vec());
    assert_eq!(status, 200);
    source.stop();
    p.shutdown();
    let (sent, got) = (direct.logs(), relayed.logs());
    assert_eq!(sent.len(), 3);
    for (sent, got) in sent.iter().zip(&got) {
        let mut expected = comparable(sent);
        if sent.time_unix_nano == 0 {
            // A record without a time carries the time it was observed.
            expected["time"] = json!(sent.observed_time_unix_nano);
        }
        if sent.scope.is_empty() {
            // Without a scope the sink names itself.
            expected["scope"] = json!("sinkbox");
        }
        if sent.attributes.contains_key("message") {
            // An attribute whose key the body takes is kept apart.
            let clash = expected["attributes"]
                .as_object_mut()
                .unwrap()
                .remove("message");
            expected["attributes"]["attributes"] = json!({"message": clash});
        }
        assert_eq!(comparable(got), expected);
    }
    assert_eq!(got.len(), 3);
}

#[test]
fn refusals_are_status_messages_in_the_request_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let (p, recorder) = crate::support::recording_pipeline(dir.path(), 10_000);
    let mut small = options();
    small.server.max_records = 2;
    let source = sinkbox::sources::otlp::start("otel", p.clone(), small).unwrap();
    let (status, content_type, body) = post(
        &source,
        "/v1/logs",
        &[PROTOBUF],
        &b"\xff\xff\xff garbage"[..],
    );
    assert_eq!(
        (status, content_type.as_str()),
        (400, "application/x-protobuf")
    );
    let why = proto::Status::decode(&body[..]).unwrap();
    assert_eq!(why.code, 3, "INVALID_ARGUMENT");
    assert!(
        why.message.contains("ExportLogsServiceRequest"),
        "{}",
        why.message
    );

    let (status, _, body) = post(
        &source,
        "/v1/logs",
        &[("content-type", "application/json")],
        r#"{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "not hex"}]}]}]}"#,
    );
    let why: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 400);
    assert!(why["message"].as_str().unwrap().contains("hex"), "{why}");

    let (status, _, body) = post(&source, "/v1/logs", &[("content-type", "text/plain")], "hi");
    assert_eq!(status, 415);
    let why: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        why["message"]
            .as_str()
            .unwrap()
            .contains("application/x-protobuf"),
        "{why}"
    );

    let (status, _, body) = post(&source, "/v1/logs", &[PROTOBUF], request().encode_to_vec());
    assert_eq!(status, 400, "three records are more than two");
    assert!(
        proto::Status::decode(&body[..])
            .unwrap()
            .message
            .contains("more than 2 records")
    );
    assert_eq!(post(&source, "/v1/traces", &[PROTOBUF], "").0, 404);
    let stats = source.stats();
    assert_eq!(
        (stats.bad_requests, stats.records, stats.accepted),
        (4, 0, 0)
    );
    source.stop();
    p.shutdown();
    assert!(recorder.records.lock().unwrap().is_empty());
}

#[test]
fn records_a_sink_dead_letters_come_back_as_partial_success() {
    let dir = tempfile::tempdir().unwrap();
    // The destination refuses every request as bad data: dead letters.
    let refusing = OtlpReceiver::on("127.0.0.1:0", |_, request, _| {
        Some(status_answer(request, 400, "schema mismatch"))
    });
    let p = crate::support::network_pipeline(
        dir.path(),
        "otlp",
        "collector",
        &refusing.endpoint(),
        10_000,
        "",
    );
    let source = sinkbox::sources::otlp::start("otel", p.clone(), options()).unwrap();
    let (status, _, body) = post(&source, "/v1/logs", &[PROTOBUF], request().encode_to_vec());
    assert_eq!(status, 200, "the records are safe: in dead letters");
    let partial = proto::ExportLogsServiceResponse::decode(&body[..])
        .unwrap()
        .partial_success
        .expect("a partial success");
    assert_eq!(partial.rejected_log_records, 3);
    assert!(
        partial
            .error_message
            .contains("3 records went to dead letters")
    );
    source.stop();
    p.shutdown();
}

/// The OpenTelemetry Python SDK (installed by `cargo xtask test` into
/// `target/tools/otel`) as the client: `logging` through its
/// `LoggingHandler`, batched, gzip protobuf over OTLP/HTTP.
#[test]
fn the_opentelemetry_python_sdk_sends_10000_records_into_a_file_sink() {
    let root = crate::support::workspace_root();
    let python = root.join("target/tools/otel/bin/python");
    assert!(
        python.exists(),
        "{} is missing; `cargo xtask test` installs the OpenTelemetry SDK there",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let p = crate::support::toml_pipeline(
        dir.path(),
        "[runtime]\ndata_dir = \"data\"\n[sinks.out]\ntype = \"file\"\npath = \"out.ndjson\"\n",
    );
    let source = sinkbox::sources::otlp::start("otel", p.clone(), options()).unwrap();
    let sent = std::process::Command::new(&python)
        .arg(root.join("tests/clients/otel_log_sender.py"))
        .arg(format!("http://{}/v1/logs", source.local_addr()))
        .arg("10000")
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "the SDK's exports failed: {}",
        String::from_utf8_lossy(&sent.stderr)
    );
    // Every export was answered 200 only once its records were in the
    // file: nothing is left to wait for.
    let stats = source.stats();
    assert_eq!(stats.records, 10_000);
    assert_eq!(stats.accepted, stats.requests);
    assert_eq!(stats.acknowledged, stats.requests);
    let spans: Vec<Value> = String::from_utf8(sent.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let written = std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap();
    let records: Vec<Value> = written
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 10_000);
    let mut seen = vec![false; 10_000];
    for record in &records {
        let i = record["order.id"].as_u64().unwrap() as usize;
        assert!(!std::mem::replace(&mut seen[i], true), "order {i} twice");
        assert_eq!(record["message"], format!("order {i} placed"));
        assert_eq!(record["amount"], json!(i as f64 / 4.0));
        assert_eq!(record["level"], if i % 2 == 1 { "WARN" } else { "INFO" });
        let span = &spans[i / 100];
        assert_eq!(record["trace_id"], span["trace_id"], "order {i}");
        assert_eq!(record["span_id"], span["span_id"], "order {i}");
        assert_eq!(record["resource"]["service.name"], "shop");
        assert_eq!(record["resource"]["deployment.environment"], "test");
        assert_eq!(record["resource"]["telemetry.sdk.language"], "python");
        assert_eq!(record["scope"]["name"], "shop.orders");
        let time = record["timestamp"].as_str().unwrap();
        assert!(time.starts_with("20") && time.ends_with('Z'), "{time}");
        assert_eq!(record["code.function.name"], "main");
    }
    source.stop();
    p.shutdown();
}
