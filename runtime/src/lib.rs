//! sinkbox: WebAssembly-sandboxed sinks for structured log and event
//! pipelines.
//!
//! Events are serialized once into batches; every sink, native or sandboxed,
//! gets the same shared batch through its own queue and worker thread.
//! Sandboxed sinks are wasm components run by wasmtime, each instance in its
//! own store with a memory cap, a CPU deadline and no ambient authority.
//!
//! ```no_run
//! use std::time::Duration;
//! use sinkbox::{Pipeline, sinks::{FileSink, FileSinkOptions}};
//!
//! let pipeline = Pipeline::builder()
//!     .sink("applog", FileSink::new(FileSinkOptions { path: "app.ndjson".into(), sync_on_flush: true }))
//!     .build()?;
//! pipeline.emit(&serde_json::json!({"level": "info", "message": "hello"}))?;
//! pipeline.flush(Duration::from_secs(5));
//! let stats = pipeline.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod acknowledgement;
pub mod backoff;
pub mod batch;
pub mod composite;
pub mod config;
pub mod dead_letters;
pub mod pipeline;
mod record_results;
pub mod registry;
pub mod reload;
pub mod routing;
pub mod secret;
pub mod sink;
pub mod sink_name;
pub mod sinks;
pub mod sources;
mod tracing_layer;
mod untrusted_text;
pub mod wasm;

pub use acknowledgement::{AckReport, Acknowledgement};
pub use batch::Batch;
pub use config::Config;
pub use pipeline::{
    EmitError, FlushReport, Pipeline, PipelineBuilder, ShutdownReport, SinkSpec, SinkStats,
};
pub use routing::Condition;
pub use sink::{FlushOutcome, Health, RecordResult, RecordResults, Sink, SinkError, WriteOutcome};
pub use tracing_layer::SinkboxLayer;

impl Pipeline {
    /// Reads a TOML config file, applies the `SINKBOX_SINKS` and
    /// `SINKBOX_<SINK>__<OPTION>` environment overrides, and starts the
    /// pipeline it describes with the built-in sink types
    /// ([`config::pipeline_from_file`]).
    pub fn from_config_file(path: impl AsRef<std::path::Path>) -> anyhow::Result<Pipeline> {
        config::pipeline_from_file(path)
    }
}
