//! The same sinks written in Rust, Python and JavaScript: every version
//! passes `sinkbox check`, answers the same outcomes, and writes
//! byte-for-byte the same output for the same input.

use std::path::Path;
use std::time::Duration;

use crate::support::{engine, guest, read_lines};
use sinkbox::pipeline::BatchOptions;
use sinkbox::wasm::{WasmSink, WasmSinkOptions, run_conformance};
use sinkbox::{Batch, Pipeline, RecordResults, Sink, WriteOutcome};

const LANGUAGES: [&str; 3] = ["", "-py", "-js"];

fn options(dir: &Path, config: &[(&str, &str)]) -> WasmSinkOptions {
    WasmSinkOptions {
        // Interpreted guests start slower than Rust ones on a busy machine.
        call_timeout: Duration::from_secs(10),
        ..crate::support::granted(dir, config)
    }
}

/// Log records with secrets in them, at two minutes, plus records that are
/// valid JSON but not objects.
fn input() -> Vec<String> {
    vec![
        r#"{"ts":"2026-11-22T10:00:01Z","level":"INFO","route":"/login","user":"ann","password":"hunter2"}"#.into(),
        r#"{"ts":"2026-11-22T10:00:02Z","level":"warn","route":"/pay","card":"4111 1111 1111 1111","note":"paid with 4111-1111-1111-1111 today"}"#.into(),
        r#"{"ts":"2026-11-22T10:00:03Z","level":"info","route":"/pay","ref":"order 1234567890123 (not a card: Luhn fails)"}"#.into(),
        r#""a bare string""#.into(),
        r#"{"ts":"2026-11-22T10:01:00Z","level":"error","route":"/login","auth":{"Token":"abc","Authorization":"Bearer x","nested":[{"api_key":"k"}]},"ok":false}"#.into(),
        r#"[1,2,3]"#.into(),
        r#"{"ts":"yesterday","message":"unicode é 中 😀 and a quote \" and a tab \t","count":7}"#.into(),
    ]
}

/// Runs `input()` through a pipeline with the sink, in batches of 3, and
/// returns what it wrote to `file` in its grant.
fn run(kind: &str, language: &str, file: &str) -> (String, u64) {
    let dir = tempfile::tempdir().unwrap();
    let component = engine().load(&guest(&format!("{kind}{language}"))).unwrap();
    let sink = WasmSink::new("sink", component, options(dir.path(), &[]));
    let pipeline = Pipeline::builder()
        .data_dir(dir.path().join("state"))
        .batch(BatchOptions {
            max_records: 3,
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(3600),
        })
        .sink("sink", sink)
        .build()
        .unwrap();
    for record in input() {
        pipeline.emit_json(record.as_bytes()).unwrap();
    }
    // A batch that holds no object at all is rejected and dead-lettered.
    assert!(pipeline.flush(Duration::from_secs(60)).is_complete());
    pipeline.emit_json(b"42").unwrap();
    pipeline.emit_json(b"null").unwrap();
    let stats = pipeline.shutdown().into_iter().next().unwrap();
    let output = std::fs::read_to_string(dir.path().join(file)).unwrap();
    (output, stats.dead_lettered)
}

#[test]
fn the_redact_sinks_write_the_same_bytes_in_every_language() {
    let _heavy = crate::support::exclusive();
    let outputs: Vec<(String, u64)> = LANGUAGES
        .iter()
        .map(|language| run("redact-sink", language, "redacted.ndjson"))
        .collect();
    let (rust, dead) = &outputs[0];
    let lines: Vec<&str> = rust.lines().collect();
    assert_eq!(lines.len(), 5, "{rust}");
    assert_eq!(
        lines[0],
        r#"{"ts":"2026-11-22T10:00:01Z","level":"INFO","route":"/login","user":"ann","password":"[REDACTED]"}"#
    );
    assert_eq!(
        lines[1],
        r#"{"ts":"2026-11-22T10:00:02Z","level":"warn","route":"/pay","card":"[REDACTED]","note":"paid with [REDACTED] today"}"#
    );
    assert!(
        lines[2].contains("order 1234567890123 (not a card"),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[3],
        r#"{"ts":"2026-11-22T10:01:00Z","level":"error","route":"/login","auth":{"Token":"[REDACTED]","Authorization":"[REDACTED]","nested":[{"api_key":"[REDACTED]"}]},"ok":false}"#
    );
    assert_eq!(
        *dead, 4,
        "the two non-objects among objects, each alone, and the batch of non-objects"
    );
    for (language, output) in LANGUAGES.iter().zip(&outputs).skip(1) {
        assert_eq!(
            output, &outputs[0],
            "redact-sink{language} differs from Rust"
        );
    }
}

#[test]
fn the_rollup_sinks_write_the_same_summary_in_every_language() {
    let _heavy = crate::support::exclusive();
    let outputs: Vec<(String, u64)> = LANGUAGES
        .iter()
        .map(|language| run("rollup-sink", language, "summary.json"))
        .collect();
    let (rust, dead) = &outputs[0];
    assert_eq!(
        rust,
        concat!(
            r#"{"by":"route","malformed":4,"minutes":{"#,
            r#""2026-11-22T10:00":{"levels":{"info":2,"warn":1},"values":{"/login":1,"/pay":2}},"#,
            r#""2026-11-22T10:01":{"levels":{"error":1},"values":{"/login":1}},"#,
            r#""unknown":{"levels":{"none":1},"values":{"none":1}}},"records":5}"#,
            "\n"
        )
    );
    assert_eq!(*dead, 2);
    for (language, output) in LANGUAGES.iter().zip(&outputs).skip(1) {
        assert_eq!(
            output, &outputs[0],
            "rollup-sink{language} differs from Rust"
        );
    }
}

#[test]
fn every_version_passes_the_conformance_suite() {
    let _heavy = crate::support::exclusive();
    for kind in ["redact-sink", "rollup-sink"] {
        for language in LANGUAGES {
            let dir = tempfile::tempdir().unwrap();
            let name = format!("{kind}{language}");
            let report = run_conformance(&engine(), &guest(&name), options(dir.path(), &[]));
            assert!(report.passed(), "{name}: {report:#?}");
        }
    }
}

#[test]
fn every_version_answers_the_same_outcomes() {
    let _heavy = crate::support::exclusive();
    for kind in ["redact-sink", "rollup-sink"] {
        for language in LANGUAGES {
            let name = format!("{kind}{language}");
            let component = engine().load(&guest(&name)).unwrap();
            let dir = tempfile::tempdir().unwrap();

            // An unknown option is refused at start, naming it.
            let mut refused = WasmSink::new(
                "s",
                component.clone(),
                options(dir.path(), &[("colour", "red")]),
            );
            let err = refused.start().unwrap_err().to_string();
            assert!(
                err.contains("unknown option(s)") && err.contains("colour"),
                "{name}: {err}"
            );

            // Without a grant there is nowhere to write: refused at start.
            let mut ungranted = WasmSink::new(
                "s",
                component.clone(),
                WasmSinkOptions {
                    grant: None,
                    ..options(dir.path(), &[])
                },
            );
            let err = ungranted.start().unwrap_err().to_string();
            assert!(err.contains("grant the sink a directory"), "{name}: {err}");

            let mut sink = WasmSink::new("s", component, options(dir.path(), &[]));
            sink.start().unwrap();
            let objects = Batch::from_records(input().into_iter().take(3), 0);
            assert_eq!(sink.write(&objects), WriteOutcome::Accepted, "{name}");
            let mixed = Batch::from_records(input().into_iter().skip(3).take(2), 3);
            let expected = if kind == "redact-sink" {
                // Contract 0.2: the bare string alone is refused.
                WriteOutcome::Records(RecordResults::new().rejected(0..1, "not a JSON object"))
            } else {
                WriteOutcome::Accepted
            };
            assert_eq!(sink.write(&mixed), expected, "{name}");
            let none = Batch::from_records(["1", "\"x\"", "[]"], 5);
            assert_eq!(
                sink.write(&none),
                WriteOutcome::Rejected("none of the 3 record(s) is a JSON object".into()),
                "{name}"
            );
            assert_eq!(sink.flush(), sinkbox::FlushOutcome::Done, "{name}");
            assert_eq!(
                sink.flush(),
                sinkbox::FlushOutcome::Done,
                "{name}: flush twice"
            );
            sink.stop();
            let file = if kind == "redact-sink" {
                "redacted.ndjson"
            } else {
                "summary.json"
            };
            assert!(!read_lines(&dir.path().join(file)).is_empty(), "{name}");
        }
    }
}
