//! The `loki` sink against a Loki-compatible push receiver on loopback
//! (`loki_receiver.rs`, decoding with its own `logproto` types and
//! enforcing Loki's default limits): both encodings, streams and labels,
//! the cardinality guard, timestamps, tenant, line size, out-of-order
//! policy, 400 and 429 answers and the breaker.

use std::time::{Duration, Instant};

use crate::loki_receiver::{LokiLimits, LokiReceiver};
use crate::recording_server::Answer;
use sinkbox::sinks::{LineSizeAction, LokiEncoding, LokiSink, LokiSinkOptions, OutOfOrderAction};
use sinkbox::{Health, Pipeline, Sink};

/// A pipeline with one `loki` sink named `logs` sending to `endpoint`.
fn loki_pipeline(dir: &std::path::Path, endpoint: &str, max_records: u32, extra: &str) -> Pipeline {
    crate::support::network_pipeline(dir, "loki", "logs", endpoint, max_records, extra)
}

fn emit(pipeline: &Pipeline, record: serde_json::Value) {
    pipeline.emit(&record).unwrap();
}

#[test]
fn both_encodings_deliver_every_record_once_in_streams_by_label() {
    for encoding in ["protobuf", "json"] {
        let loki = LokiReceiver::start(LokiLimits::default());
        let dir = tempfile::tempdir().unwrap();
        let p = loki_pipeline(
            dir.path(),
            &loki.endpoint(),
            25,
            &format!(
                "encoding = \"{encoding}\"\ntenant_id = \"team-a\"\nlabels = {{ job = \"api\" }}\nlabel_keys = [\"level\", \"service.name\"]\n"
            ),
        );
        for i in 0..100u64 {
            let level = ["info", "warn"][(i % 2) as usize];
            emit(
                &p,
                serde_json::json!({"i": i, "level": level, "service": {"name": "checkout"}, "timestamp": 1_764_583_200_000u64 + i}),
            );
        }
        let stats = p.shutdown().remove(0);
        assert_eq!((stats.records, stats.dead_lettered), (100, 0), "{stats:?}");
        let entries = loki.entries();
        assert_eq!(entries.len(), 100, "{encoding}: every record exactly once");
        let mut numbers = loki.numbers();
        numbers.sort_unstable();
        assert_eq!(numbers, (0..100).collect::<Vec<_>>());
        for entry in &entries {
            let record: serde_json::Value = serde_json::from_str(&entry.line).unwrap();
            let i = record["i"].as_u64().unwrap();
            assert_eq!(entry.protobuf, encoding == "protobuf");
            assert_eq!(entry.tenant.as_deref(), Some("team-a"));
            assert_eq!(entry.labels["job"], "api");
            assert_eq!(entry.labels["level"], record["level"]);
            assert_eq!(entry.labels["service_name"], "checkout");
            assert_eq!(entry.labels.len(), 3);
            // The record's own time (milliseconds), not the time of sending.
            assert_eq!(entry.nanos, (1_764_583_200_000 + i as i128) * 1_000_000);
        }
        // Within a stream, entries keep record order.
        for level in ["info", "warn"] {
            let stream: Vec<i128> = entries
                .iter()
                .filter(|e| e.labels["level"] == level)
                .map(|e| e.nanos)
                .collect();
            assert!(stream.windows(2).all(|w| w[0] < w[1]), "{level}");
        }
        let paths: Vec<String> = loki
            .server
            .requests()
            .iter()
            .map(|r| r.path.clone())
            .collect();
        assert!(paths.iter().all(|p| p == "/loki/api/v1/push"), "{paths:?}");
        assert_eq!(paths.len(), 4, "four batches of 25, one push each");
    }
}

#[test]
fn a_field_label_with_too_many_values_overflows_instead_of_making_streams() {
    let loki = LokiReceiver::start(LokiLimits::default());
    let dir = tempfile::tempdir().unwrap();
    let p = loki_pipeline(
        dir.path(),
        &loki.endpoint(),
        50,
        "label_keys = [\"user\"]\nmax_label_values = 3\nline_field = \"msg\"\ntimestamp_field = \"\"\n",
    );
    for i in 0..50 {
        emit(
            &p,
            serde_json::json!({"user": format!("u{}", i % 10), "msg": format!("hello {i}")}),
        );
    }
    p.shutdown();
    let entries = loki.entries();
    assert_eq!(entries.len(), 50);
    let mut values: Vec<&str> = entries.iter().map(|e| e.labels["user"].as_str()).collect();
    values.sort_unstable();
    values.dedup();
    assert_eq!(values, ["_overflow", "u0", "u1", "u2"]);
    // The line is the chosen field; the real user is not lost from it.
    assert!(
        entries
            .iter()
            .any(|e| e.line == "hello 9" && e.labels["user"] == "_overflow")
    );
    // No timestamp field: the time of sending.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    assert!(
        entries
            .iter()
            .all(|e| (now - e.nanos).abs() < 60_000_000_000)
    );
}

#[test]
fn long_lines_are_cut_to_max_line_size_or_dropped() {
    let loki = LokiReceiver::start(LokiLimits {
        max_line_size: 1024,
        ..LokiLimits::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let p = loki_pipeline(
        dir.path(),
        &loki.endpoint(),
        10,
        "max_line_size = \"1KiB\"\n",
    );
    emit(&p, serde_json::json!({"i": 0, "pad": "é".repeat(3000)}));
    emit(&p, serde_json::json!({"i": 1}));
    let stats = p.shutdown().remove(0);
    assert_eq!(stats.dead_lettered, 0, "{stats:?}");
    let entries = loki.entries();
    assert_eq!(entries.len(), 2);
    assert!(entries[0].line.len() <= 1024, "{}", entries[0].line.len());
    assert!(
        entries[0].line.ends_with("bytes cut)"),
        "{}",
        &entries[0].line[900..]
    );
    assert_eq!(entries[1].line, r#"{"i":1}"#);

    let loki = LokiReceiver::start(LokiLimits {
        max_line_size: 1024,
        ..LokiLimits::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let p = loki_pipeline(
        dir.path(),
        &loki.endpoint(),
        10,
        "max_line_size = \"1KiB\"\nmax_line_size_action = \"drop\"\n",
    );
    emit(&p, serde_json::json!({"i": 0, "pad": "x".repeat(3000)}));
    emit(&p, serde_json::json!({"i": 1}));
    p.shutdown();
    assert_eq!(loki.numbers(), [1]);
}

#[test]
fn a_line_over_lokis_limit_is_dead_lettered_with_lokis_reason() {
    // The sink allows 256 KB lines; this Loki allows 1 KB.
    let loki = LokiReceiver::start(LokiLimits {
        max_line_size: 1024,
        ..LokiLimits::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let p = loki_pipeline(dir.path(), &loki.endpoint(), 10, "max_retries = 3\n");
    for i in 0..3 {
        emit(
            &p,
            serde_json::json!({"i": i, "pad": "x".repeat(if i == 1 { 2000 } else { 1 })}),
        );
    }
    let stats = p.shutdown().remove(0);
    assert_eq!(stats.dead_lettered, 3, "{stats:?}");
    assert_eq!(loki.server.requests().len(), 1, "a 400 is not retried");
    let letters = crate::support::dead_letters(&dir.path().join("data/dead-letter/logs.ndjson"));
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("rejected: HTTP 400: max entry size '1024' bytes exceeded"),
        "{reason}"
    );
}

#[test]
fn a_partial_ingest_counts_the_ignored_entries_and_sends_nothing_again() {
    // Loki's ingester refuses entries an hour behind their stream's newest,
    // stores the rest, and answers 400 "total ignored: 2 out of 5".
    let hour: i128 = 3_600_000_000_000;
    let loki = LokiReceiver::start(LokiLimits {
        out_of_order_window: Some(hour),
        ..LokiLimits::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let p = loki_pipeline(
        dir.path(),
        &loki.endpoint(),
        5,
        "max_retries = 3
",
    );
    let base = 1_764_583_200_000u64;
    for (i, minutes_back) in [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)] {
        emit(
            &p,
            serde_json::json!({"i": i, "timestamp": base - minutes_back * 60_000}),
        );
    }
    p.flush(Duration::from_secs(10));
    for (i, minutes_back) in [(5, 0), (6, 120), (7, 1), (8, 90), (9, 0)] {
        emit(
            &p,
            serde_json::json!({"i": i, "timestamp": base + 1 - minutes_back * 60_000}),
        );
    }
    let stats = p.shutdown().remove(0);
    assert_eq!(
        (
            stats.records,
            stats.dropped_by_destination,
            stats.dead_lettered,
            stats.retries
        ),
        (8, 2, 0, 0),
        "{stats:?}"
    );
    assert_eq!(
        loki.server.requests().len(),
        2,
        "a partial ingest is not sent again"
    );
    let mut stored = loki.numbers();
    stored.sort_unstable();
    assert_eq!(stored, [0, 1, 2, 3, 4, 5, 7, 9]);
}

#[test]
fn out_of_order_entries_are_rewritten_to_the_streams_last_time() {
    let loki = LokiReceiver::start(LokiLimits::default());
    let dir = tempfile::tempdir().unwrap();
    let p = loki_pipeline(
        dir.path(),
        &loki.endpoint(),
        2,
        "out_of_order_action = \"rewrite_timestamp\"\nlabel_keys = []\n",
    );
    for (i, at) in [
        (0, "2026-12-01T10:00:05Z"),
        (1, "2026-12-01T10:00:03Z"),
        (2, "2026-12-01T10:00:01Z"),
        (3, "2026-12-01T10:00:09Z"),
    ] {
        emit(&p, serde_json::json!({"i": i, "timestamp": at}));
    }
    p.shutdown();
    let entries = loki.entries();
    let seconds: Vec<i128> = entries
        .iter()
        .map(|e| e.nanos / 1_000_000_000 % 60)
        .collect();
    assert_eq!(seconds, [5, 5, 5, 9]);
    assert_eq!(loki.numbers(), [0, 1, 2, 3]);
    assert_eq!(
        entries[0].labels.get("service").map(String::as_str),
        Some("sinkbox"),
        "the fallback label"
    );
}

#[test]
fn a_429_waits_its_retry_after_and_loses_nothing() {
    let loki = LokiReceiver::on("127.0.0.1:0", LokiLimits::default(), |n| {
        (n == 0).then(|| {
            Answer::status(429, "Ingestion rate limit exceeded").with_header("Retry-After", "1")
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let p = loki_pipeline(dir.path(), &loki.endpoint(), 10, "");
    let started = Instant::now();
    crate::support::emit_numbered(&p, 0..10);
    assert!(p.flush(Duration::from_secs(30)).is_complete());
    let waited = started.elapsed();
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (10, 0));
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
    assert_eq!(loki.numbers(), (0..10).collect::<Vec<_>>());
}

#[test]
fn the_breaker_opens_on_repeated_5xx_and_closes_after_a_good_probe() {
    let loki = LokiReceiver::on("127.0.0.1:0", LokiLimits::default(), |n| {
        (n < 3).then(|| Answer::status(503, "ingester not ready"))
    });
    let mut http = sinkbox::sinks::HttpOptions::new(
        format!("{}/loki/api/v1/push", loki.endpoint())
            .parse()
            .unwrap(),
    );
    http.healthcheck = false;
    http.breaker_threshold = 3;
    http.breaker_cool_down = Duration::from_millis(300);
    let mut sink = LokiSink::new(LokiSinkOptions {
        http,
        encoding: LokiEncoding::Protobuf,
        labels: vec![("job".into(), "t".into())],
        label_keys: vec![],
        max_label_values: 10,
        line_field: None,
        timestamp_field: None,
        out_of_order: OutOfOrderAction::Accept,
        max_line_size: 1 << 18,
        line_size_action: LineSizeAction::Truncate,
    })
    .unwrap();
    sink.start().unwrap();
    let batch = sinkbox::Batch::from_records([r#"{"i":0}"#], 0);
    for _ in 0..3 {
        assert!(matches!(
            sink.write(&batch),
            sinkbox::WriteOutcome::Retryable(_)
        ));
    }
    let sinkbox::WriteOutcome::Deferred { reason, .. } = sink.write(&batch) else {
        panic!("an open breaker defers")
    };
    assert!(reason.contains("circuit breaker is open"), "{reason}");
    assert!(matches!(sink.health(), Health::Unhealthy(_)));
    assert_eq!(sink.breaker_state(), sinkbox::sinks::BreakerState::Open);
    assert_eq!(
        loki.server.requests().len(),
        3,
        "an open breaker sends nothing"
    );
    std::thread::sleep(Duration::from_millis(350));
    assert_eq!(sink.write(&batch), sinkbox::WriteOutcome::Accepted);
    assert_eq!(sink.health(), Health::Healthy);
    assert_eq!(loki.numbers(), [0]);
}

#[test]
fn bad_loki_options_are_pointed_config_errors() {
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let check = |extra: &str| {
        sinkbox::config::ConfigLoader::new(&registry)
            .toml(
                &format!(
                    "[sinks.l]\ntype = \"loki\"\nendpoint = \"http://127.0.0.1:9\"\n{extra}\n"
                ),
                "t.toml",
                std::path::Path::new("/"),
            )
            .load()
            .and_then(|c| c.check(&registry))
            .map_err(|e| e.to_string())
    };
    check("").unwrap();
    let err = check("labels = { \"bad-name\" = \"x\" }").unwrap_err();
    assert!(
        err.contains("sinks.l.labels") && err.contains("not a Loki label name"),
        "{err}"
    );
    let err = check("compression = \"gzip\"").unwrap_err();
    assert!(err.contains("snappy-compressed already"), "{err}");
    check("compression = \"gzip\"\nencoding = \"json\"").unwrap();
    let many: Vec<String> = (0..15).map(|i| format!("\"f{i}\"")).collect();
    let err = check(&format!(
        "label_keys = [{}]\nlabels = {{ job = \"x\" }}",
        many.join(",")
    ))
    .unwrap_err();
    assert!(err.contains("at most 15 per stream"), "{err}");
}

#[test]
fn a_retried_push_is_built_again_from_what_was_delivered_not_from_what_was_tried() {
    // The first push is refused with 429; the retry must drop exactly what
    // the first attempt dropped (the entry older than its stream's newest),
    // not everything the failed attempt saw.
    let loki = LokiReceiver::on("127.0.0.1:0", LokiLimits::default(), |n| {
        (n == 0).then(|| Answer::status(429, "slow down").with_header("Retry-After", "0"))
    });
    let dir = tempfile::tempdir().unwrap();
    let p = loki_pipeline(
        dir.path(),
        &loki.endpoint(),
        3,
        "out_of_order_action = \"drop\"\nlabel_keys = []\n",
    );
    for (i, at) in [
        (0, "2026-12-01T10:00:05Z"),
        (1, "2026-12-01T10:00:03Z"),
        (2, "2026-12-01T10:00:09Z"),
    ] {
        emit(&p, serde_json::json!({"i": i, "timestamp": at}));
    }
    let stats = p.shutdown().remove(0);
    assert_eq!(stats.errors.retryable, 1, "{stats:?}");
    assert_eq!(loki.numbers(), [0, 2]);
}

#[test]
fn empty_label_values_are_left_out_as_loki_does() {
    let loki = LokiReceiver::start(LokiLimits::default());
    let dir = tempfile::tempdir().unwrap();
    let p = loki_pipeline(dir.path(), &loki.endpoint(), 2, "");
    emit(&p, serde_json::json!({"i": 0, "level": ""}));
    emit(&p, serde_json::json!({"i": 1, "level": "info"}));
    let stats = p.shutdown().remove(0);
    assert_eq!(stats.dead_lettered, 0, "{stats:?}");
    let entries = loki.entries();
    assert_eq!(
        entries[0].labels.keys().collect::<Vec<_>>(),
        ["service"],
        "the fallback, not level=\"\""
    );
    assert_eq!(entries[1].labels["level"], "info");
}
