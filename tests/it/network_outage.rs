//! A 30-second outage of every receiver at once, under steady load, with
//! the default retry and circuit-breaker settings: the `http`, `loki` and
//! `otlp` sinks of one pipeline dead-letter nothing, lose nothing, send
//! nothing twice, and keep record order once the receivers come back.
//! (The old defaults dead-lettered batches 3 s into the outage, and
//! batches waiting on the open breaker after it ended, unsent.)

use std::time::Duration;

use crate::loki_receiver::{LokiLimits, LokiReceiver};
use crate::otlp_receiver::OtlpReceiver;
use crate::recording_server::{Answer, RecordingServer, free_port};

#[test]
fn a_30_second_outage_loses_nothing_and_keeps_order_for_every_network_sink() {
    let (http_port, loki_port, otlp_port) = (free_port(), free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let common = "healthcheck = false\nmax_events = 7\n";
    let config = sinkbox::config::ConfigLoader::new(&registry)
        .toml(
            &format!(
                "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = 20\ntimeout = \"1h\"\n\
                 [sinks.web]\ntype = \"http\"\nendpoint = \"http://127.0.0.1:{http_port}/in\"\nbatch_format = \"ndjson\"\nconcurrency = 3\n{common}\
                 [sinks.logs]\ntype = \"loki\"\nendpoint = \"http://127.0.0.1:{loki_port}\"\n{common}\
                 [sinks.otel]\ntype = \"otlp\"\nendpoint = \"http://127.0.0.1:{otlp_port}\"\n{common}"
            ),
            "t.toml",
            dir.path(),
        )
        .load()
        .unwrap();
    let pipeline = sinkbox::config::build_pipeline(&config).unwrap();
    // Records keep coming while nothing answers.
    for second in 0..30 {
        crate::support::emit_numbered(&pipeline, second * 10..second * 10 + 10);
        std::thread::sleep(Duration::from_secs(1));
    }
    let web = RecordingServer::start(&format!("127.0.0.1:{http_port}"), |_| Answer::ok());
    let loki = LokiReceiver::on(
        &format!("127.0.0.1:{loki_port}"),
        LokiLimits::default(),
        |_| None,
    );
    let otlp = OtlpReceiver::on(&format!("127.0.0.1:{otlp_port}"), |_, _, _| None);
    assert!(pipeline.flush(Duration::from_secs(120)).is_complete());
    let stats = pipeline.shutdown();
    let expected: Vec<u64> = (0..300).collect();
    for sink in &stats {
        assert_eq!((sink.records, sink.dead_lettered), (300, 0), "{sink:?}");
        assert!(sink.errors.retryable > 0, "the outage was seen: {sink:?}");
        assert!(
            sink.deferred > 0,
            "batches waited on the open breaker without using their retries: {sink:?}"
        );
    }
    let web_numbers: Vec<u64> = web
        .requests()
        .iter()
        .flat_map(|r| {
            String::from_utf8(r.body.clone())
                .unwrap()
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["i"]
                        .as_u64()
                        .unwrap()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // Several requests in flight may arrive in any order; each record
    // arrives once.
    let mut sorted = web_numbers.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected, "http");
    assert_eq!(loki.numbers(), expected, "loki");
    assert_eq!(otlp.numbers(), expected, "otlp");
}
