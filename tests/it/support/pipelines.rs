//! Building pipelines for tests: from specs, from TOML, around a network
//! sink, a recording sink or a wasm sink, with quick retries.

use std::path::Path;
use std::time::Duration;

use sinkbox::pipeline::RetryPolicy;
use sinkbox::{Pipeline, SinkSpec};

use super::{Recorder, RecordingSink, component};

/// Retries and restarts that run out fast, so failure paths take milliseconds.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: Some(2),
        max_retry_duration: None,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_restarts: 2,
    }
}

/// The one way tests build a pipeline: batches close every `max_records`
/// records or on flush (never on time), dead letters go under `dir/data`.
pub fn pipeline_of(
    dir: &Path,
    max_records: u32,
    sinks: Vec<SinkSpec>,
) -> Result<Pipeline, sinkbox::pipeline::PipelineError> {
    let mut builder =
        Pipeline::builder()
            .data_dir(dir.join("data"))
            .batch(sinkbox::pipeline::BatchOptions {
                max_records,
                max_bytes: 1 << 24,
                timeout: Duration::from_secs(3600),
            });
    for spec in sinks {
        builder = builder.sink_spec(spec);
    }
    builder.build()
}

/// A pipeline from configuration text, relative paths resolved against
/// `dir` (the way tests drive a sink through its real option parsing).
pub fn toml_pipeline(dir: &Path, toml: &str) -> Pipeline {
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let config = sinkbox::config::ConfigLoader::new(&registry)
        .toml(toml, "t.toml", dir)
        .load()
        .unwrap();
    sinkbox::config::build_pipeline(&config).unwrap()
}

/// A pipeline with one network sink of `sink_type` named `name`, sending to
/// `endpoint`, batches of `max_records` (never closed by time), quick
/// back-off, no healthcheck, and `extra` TOML lines for the sink.
pub fn network_pipeline(
    dir: &Path,
    sink_type: &str,
    name: &str,
    endpoint: &str,
    max_records: u32,
    extra: &str,
) -> Pipeline {
    toml_pipeline(
        dir,
        &format!(
            "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = {max_records}\ntimeout = \"1h\"\n\
             [sinks.{name}]\ntype = \"{sink_type}\"\nendpoint = \"{endpoint}\"\nhealthcheck = false\n\
             initial_backoff = \"20ms\"\nmax_backoff = \"200ms\"\n{extra}\n"
        ),
    )
}

/// A pipeline with one recording sink (see [`Recorder`]).
pub fn recording_pipeline(dir: &Path, max_records: u32) -> (Pipeline, Recorder) {
    let recorder = Recorder::default();
    let pipeline = pipeline_of(
        dir,
        max_records,
        vec![SinkSpec::new("recorder", RecordingSink::new(&recorder))],
    )
    .unwrap();
    (pipeline, recorder)
}

/// A pipeline with one wasm sink named `name`, running guest `guest` with
/// `options` and fast retries.
pub fn wasm_pipeline(
    dir: &Path,
    max_records: u32,
    name: &str,
    guest: &str,
    options: sinkbox::wasm::WasmSinkOptions,
) -> Result<Pipeline, sinkbox::pipeline::PipelineError> {
    let sink = sinkbox::wasm::WasmSink::new(name, component(guest), options);
    pipeline_of(
        dir,
        max_records,
        vec![SinkSpec::new(name, sink).retry(fast_retry())],
    )
}
