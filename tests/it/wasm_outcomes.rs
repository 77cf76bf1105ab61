//! Every write outcome of a real guest (`outcome-sink`) and what the host
//! does with it: retries, partial tails, dead letters, restarts.

use std::path::Path;
use std::time::Duration;

use crate::support::{component, fast_retry, read_lines, records, wait_until};
use sinkbox::pipeline::PipelineError;
use sinkbox::wasm::{DirGrant, WasmSink, WasmSinkOptions};
use sinkbox::{Batch, FlushOutcome, Health, Pipeline, Sink, SinkSpec, WriteOutcome};

fn outcome_sink(dir: &Path, extra: &[(&str, &str)]) -> WasmSink {
    let mut config = vec![("path".to_owned(), "/data/accepted.ndjson".to_owned())];
    config.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    WasmSink::new(
        "outcomes",
        component("outcome-sink"),
        WasmSinkOptions {
            grant: Some(DirGrant {
                host_path: dir.join("out"),
                guest_path: "/data".into(),
                read_only: false,
            }),
            config,
            ..WasmSinkOptions::default()
        },
    )
}

fn pipeline(dir: &Path, extra: &[(&str, &str)]) -> Result<Pipeline, PipelineError> {
    // Batches close only on flush, so each `send` below is one batch.
    crate::support::pipeline_of(
        dir,
        10_000,
        vec![SinkSpec::new("outcomes", outcome_sink(dir, extra)).retry(fast_retry())],
    )
}

/// Emits `records` as one batch and waits until the sink has handled it.
fn send(pipeline: &Pipeline, records: &[String]) {
    for record in records {
        pipeline.emit_json(record.as_bytes()).unwrap();
    }
    let report = pipeline.flush(Duration::from_secs(60));
    assert!(report.is_complete(), "{report}");
}

fn accepted(dir: &Path) -> Vec<String> {
    read_lines(&dir.join("out").join("accepted.ndjson"))
}

fn dead_letters(dir: &Path) -> Vec<serde_json::Value> {
    crate::support::dead_letters(&dir.join("data").join("dead-letter").join("outcomes.ndjson"))
}

#[test]
fn accepted_batches_arrive_once_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &[]).unwrap();
    for start in [0, 5, 10] {
        send(&pipeline, &records(start, 5, None, ""));
    }
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(stats.records, 15);
    assert_eq!(stats.batches, 3);
    assert_eq!(stats.errors.total(), 0);
    assert_eq!(accepted(dir.path()), records(0, 15, None, ""));
}

#[test]
fn retryable_once_is_retried_then_accepted_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &[]).unwrap();
    let batch = records(0, 5, Some(2), r#""outcome":"retryable_once""#);
    send(&pipeline, &batch);
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(stats.errors.retryable, 1);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.records, 5);
    assert_eq!(stats.dead_lettered, 0);
    assert_eq!(accepted(dir.path()), batch);
}

#[test]
fn retryable_forever_is_dead_lettered_after_max_retries() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &[]).unwrap();
    let bad = records(0, 5, Some(4), r#""outcome":"retryable""#);
    send(&pipeline, &bad);
    let good = records(5, 3, None, "");
    send(&pipeline, &good);
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(stats.errors.retryable, 3, "first try plus max_retries = 2");
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.dead_lettered, 5);
    assert_eq!(stats.records, 3);
    assert_eq!(accepted(dir.path()), good);

    let letters = dead_letters(dir.path());
    assert_eq!(letters.len(), 5);
    for (k, letter) in letters.iter().enumerate() {
        assert_eq!(letter["sink"], "outcomes");
        assert_eq!(letter["sequence"], k as u64);
        assert_eq!(
            letter["record"],
            serde_json::from_str::<serde_json::Value>(&bad[k]).unwrap()
        );
        let reason = letter["reason"].as_str().unwrap();
        assert!(
            reason.contains("still failing after 2 retries: asked to retry"),
            "{reason}"
        );
    }
}

#[test]
fn rejected_goes_to_the_dead_letter_file_without_retry() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &[]).unwrap();
    let bad = records(0, 4, Some(0), r#""outcome":"rejected""#);
    send(&pipeline, &bad);
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(stats.errors.rejected, 1);
    assert_eq!(stats.retries, 0);
    assert_eq!(stats.dead_lettered, 4);
    assert!(accepted(dir.path()).is_empty());
    let letters = dead_letters(dir.path());
    assert_eq!(letters.len(), 4);
    assert_eq!(letters[0]["reason"], "rejected: asked to reject");
}

#[test]
fn partial_retries_only_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &[]).unwrap();
    let batch = records(0, 6, Some(3), r#""outcome":"partial""#);
    send(&pipeline, &batch);
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(stats.errors.partial, 1);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.records, 6);
    assert_eq!(stats.dead_lettered, 0);
    // The first three were accepted once; the tail was sent again alone.
    assert_eq!(accepted(dir.path()), batch);
}

#[test]
fn fatal_restarts_the_instance_then_dead_letters_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &[]).unwrap();
    send(&pipeline, &records(0, 3, Some(1), r#""outcome":"fatal""#));
    let good = records(3, 2, None, "");
    send(&pipeline, &good);
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(stats.errors.fatal, 3, "first try plus max_restarts = 2");
    assert_eq!(stats.dead_lettered, 3);
    assert_eq!(
        stats.restarts, 3,
        "two for the failing batch, one for the next"
    );
    assert_eq!(stats.records, 2);
    assert_eq!(accepted(dir.path()), good);
    let letters = dead_letters(dir.path());
    assert!(
        letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("asked to fail")
    );
}

#[test]
fn a_start_error_fails_the_build_with_the_guest_message() {
    let dir = tempfile::tempdir().unwrap();
    let Err(err) = pipeline(dir.path(), &[("refuse", "true")]) else {
        panic!("a sink that refuses to start must fail the build");
    };
    let message = err.to_string();
    assert!(
        message.contains("sink `outcomes` failed to start"),
        "{message}"
    );
    assert!(
        message.contains("refusing to start because the option `refuse` is true"),
        "{message}"
    );
}

#[test]
fn health_reports_what_the_guest_says() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &[("health", "degraded")]).unwrap();
    wait_until("the worker polls the guest's health", || {
        pipeline.health()[0].1 == Health::Degraded("configured to report degraded".into())
    });
    pipeline.shutdown();
}

#[test]
fn flush_and_stop_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = outcome_sink(dir.path(), &[]);
    sink.start().unwrap();
    assert_eq!(
        sink.write(&Batch::from_records([r#"{"i":0}"#], 0)),
        WriteOutcome::Accepted
    );
    assert_eq!(sink.flush(), FlushOutcome::Done);
    assert_eq!(sink.flush(), FlushOutcome::Done);
    assert_eq!(sink.health(), Health::Healthy);
    sink.stop();
    sink.stop();
    assert!(matches!(sink.health(), Health::Unhealthy(_)));
    assert_eq!(
        read_lines(&dir.path().join("out").join("accepted.ndjson")),
        vec![r#"{"i":0}"#]
    );
}
