//! The `otlp` sink against an OTLP/HTTP logs receiver on loopback
//! (`otlp_receiver.rs`, decoding with its own message types): both
//! encodings and the field mapping, partial success (never sent again),
//! the OTLP retry rules, and error answers carrying `google.rpc.Status`.

use std::time::Duration;

use crate::otlp_receiver::{OtlpReceiver, status_answer, success};
use crate::recording_server::Answer;
use sinkbox::{Health, Pipeline, RecordResult};

/// A pipeline with one `otlp` sink named `otel` sending to `endpoint`.
fn otlp_pipeline(dir: &std::path::Path, endpoint: &str, max_records: u32, extra: &str) -> Pipeline {
    crate::support::network_pipeline(dir, "otlp", "otel", endpoint, max_records, extra)
}

#[test]
fn both_encodings_map_time_severity_body_trace_and_attributes() {
    for encoding in ["protobuf", "json"] {
        let otlp = OtlpReceiver::start();
        let dir = tempfile::tempdir().unwrap();
        let p = otlp_pipeline(
            dir.path(),
            &otlp.endpoint(),
            10,
            &format!(
                "encoding = \"{encoding}\"\nresource = {{ \"service.name\" = \"checkout\" }}\n"
            ),
        );
        for (i, level) in ["debug", "info", "WARN", "error", "fatal"]
            .iter()
            .enumerate()
        {
            p.emit(&serde_json::json!({
                "i": i, "timestamp": "2026-12-01T10:00:00.25Z", "level": level,
                "message": format!("step {i}"), "user": {"id": 7, "tags": ["a", true, 1.5]},
                "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174"
            }))
            .unwrap();
        }
        p.emit(&serde_json::json!({"i": 5, "note": "no message field"}))
            .unwrap();
        let stats = p.shutdown().remove(0);
        assert_eq!((stats.records, stats.dead_lettered), (6, 0), "{stats:?}");
        let logs = otlp.logs();
        assert_eq!(logs.len(), 6, "{encoding}");
        assert_eq!(otlp.numbers(), (0..6).collect::<Vec<_>>());
        let numbers: Vec<i64> = logs[..5].iter().map(|l| l.severity_number).collect();
        assert_eq!(numbers, [5, 9, 13, 17, 21]);
        let first = &logs[0];
        assert_eq!(first.protobuf, encoding == "protobuf");
        assert_eq!(first.resource["service.name"], "checkout");
        assert_eq!(first.scope, "sinkbox");
        assert_eq!(first.time_unix_nano, 1_796_119_200_250_000_000);
        assert!(first.observed_time_unix_nano > first.time_unix_nano);
        assert_eq!(first.severity_text, "debug");
        assert_eq!(first.body, "step 0");
        assert_eq!(first.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(first.span_id, "eee19b7ec3c1b174");
        assert_eq!(
            first.attributes["user"],
            serde_json::json!({"id": 7, "tags": ["a", true, 1.5]})
        );
        let keys: Vec<&str> = first.attributes.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["i", "user"],
            "mapped fields are not repeated as attributes"
        );
        // No message field: the record is the body.
        let last = &logs[5];
        assert_eq!(
            last.body,
            serde_json::json!({"i": 5, "note": "no message field"})
        );
        assert_eq!((last.time_unix_nano, last.severity_number), (0, 0));
        assert!(last.attributes.is_empty());
        assert!(otlp.server.requests().iter().all(|r| r.path == "/v1/logs"));
    }
}

#[test]
fn a_partial_success_is_accepted_counted_and_never_sent_again() {
    let otlp = OtlpReceiver::on("127.0.0.1:0", |n, request, _| {
        (n == 0).then(|| success(request, 2, "2 records had an invalid attribute"))
    });
    let mut http =
        sinkbox::sinks::HttpOptions::new(format!("{}/v1/logs", otlp.endpoint()).parse().unwrap());
    http.healthcheck = false;
    let mut sink = sinkbox::sinks::OtlpSink::new(sinkbox::sinks::OtlpSinkOptions {
        http,
        encoding: sinkbox::sinks::OtlpEncoding::Protobuf,
        resource: vec![],
        mapping: sinkbox::sinks::LogMapping::default(),
    });
    sinkbox::Sink::start(&mut sink).unwrap();
    let batch = sinkbox::Batch::from_records((0..10).map(|i| format!(r#"{{"i":{i}}}"#)), 0);
    let sinkbox::WriteOutcome::Records(results) = sinkbox::Sink::write(&mut sink, &batch) else {
        panic!("a partial success is said record by record")
    };
    let [(range, RecordResult::Dropped { dropped: 2, reason })] = results.ranges.as_slice() else {
        panic!("{results:?}")
    };
    assert_eq!(*range, 0..10);
    assert!(
        reason.contains("2 records had an invalid attribute"),
        "{reason}"
    );
    assert_eq!(sink.dropped_by_collector(), 2);
    let Health::Degraded(why) = sinkbox::Sink::health(&mut sink) else {
        panic!()
    };
    assert!(why.contains("2 records had an invalid attribute"), "{why}");
    assert_eq!(
        otlp.server.requests().len(),
        1,
        "a partial success is not sent again"
    );
}

#[test]
fn a_request_the_collector_rejects_whole_is_dead_lettered_with_its_message() {
    for encoding in ["protobuf", "json"] {
        let otlp = OtlpReceiver::on("127.0.0.1:0", |n, request, records| match n {
            0 => Some(success(
                request,
                records as i64,
                "every record was over the size limit",
            )),
            1 => Some(status_answer(request, 400, "field body is malformed")),
            _ => None,
        });
        let dir = tempfile::tempdir().unwrap();
        let p = otlp_pipeline(
            dir.path(),
            &otlp.endpoint(),
            5,
            &format!("encoding = \"{encoding}\"\nmax_retries = 3\n"),
        );
        crate::support::emit_numbered(&p, 0..15);
        let stats = p.shutdown().remove(0);
        assert_eq!(
            (stats.records, stats.dead_lettered),
            (5, 10),
            "{encoding}: {stats:?}"
        );
        assert_eq!(otlp.server.requests().len(), 3, "nothing is retried");
        let letters =
            crate::support::dead_letters(&dir.path().join("data/dead-letter/otel.ndjson"));
        let reasons: Vec<&str> = letters
            .iter()
            .map(|l| l["reason"].as_str().unwrap())
            .collect();
        assert!(
            reasons[0].contains("rejected 5 records: every record was over the size limit"),
            "{reasons:?}"
        );
        assert_eq!(reasons[5], "rejected: HTTP 400: field body is malformed");
    }
}

#[test]
fn only_429_502_503_504_are_retried_and_retry_after_is_honoured() {
    let otlp = OtlpReceiver::on("127.0.0.1:0", |n, request, _| match n {
        0 => Some(status_answer(request, 503, "busy").with_header("Retry-After", "1")),
        1 => Some(Answer::status(502, "bad gateway")),
        3 => Some(status_answer(request, 500, "internal")),
        _ => None,
    });
    let dir = tempfile::tempdir().unwrap();
    let p = otlp_pipeline(dir.path(), &otlp.endpoint(), 5, "max_retries = 5\n");
    let started = std::time::Instant::now();
    crate::support::emit_numbered(&p, 0..10);
    assert!(p.flush(Duration::from_secs(30)).is_complete());
    assert!(started.elapsed() >= Duration::from_millis(950));
    let stats = p.shutdown().remove(0);
    // The first batch: 503, 502, then accepted; the second: a 500, which
    // OTLP says must not be retried.
    assert_eq!((stats.records, stats.dead_lettered), (5, 5), "{stats:?}");
    assert_eq!(otlp.numbers(), (0..5).collect::<Vec<_>>());
    let letters = crate::support::dead_letters(&dir.path().join("data/dead-letter/otel.ndjson"));
    assert_eq!(letters[0]["reason"], "rejected: HTTP 500: internal");
}

#[test]
fn the_breaker_opens_on_repeated_unavailability_and_closes_after_a_good_probe() {
    let otlp = OtlpReceiver::on("127.0.0.1:0", |n, _, _| {
        (n < 2).then(|| Answer::status(503, ""))
    });
    let mut http =
        sinkbox::sinks::HttpOptions::new(format!("{}/v1/logs", otlp.endpoint()).parse().unwrap());
    http.healthcheck = false;
    http.breaker_threshold = 2;
    http.breaker_cool_down = Duration::from_millis(300);
    let mut sink = sinkbox::sinks::OtlpSink::new(sinkbox::sinks::OtlpSinkOptions {
        http,
        encoding: sinkbox::sinks::OtlpEncoding::Json,
        resource: vec![],
        mapping: sinkbox::sinks::LogMapping::default(),
    });
    use sinkbox::Sink;
    sink.start().unwrap();
    let batch = sinkbox::Batch::from_records([r#"{"i":0}"#], 0);
    for _ in 0..2 {
        assert!(matches!(
            sink.write(&batch),
            sinkbox::WriteOutcome::Retryable(_)
        ));
    }
    assert_eq!(sink.breaker_state(), sinkbox::sinks::BreakerState::Open);
    assert!(
        matches!(sink.write(&batch), sinkbox::WriteOutcome::Deferred { reason, .. } if reason.contains("circuit breaker is open"))
    );
    assert_eq!(otlp.server.requests().len(), 2);
    std::thread::sleep(Duration::from_millis(350));
    assert_eq!(sink.write(&batch), sinkbox::WriteOutcome::Accepted);
    assert_eq!(sink.breaker_state(), sinkbox::sinks::BreakerState::Closed);
}
