//! Embedding sinkbox in an application.
//!
//! ```sh
//! cargo run -p sinkbox --example embed                      # native sinks only
//! cargo run -p sinkbox --example embed -- path/to/sink.wasm # plus a sandboxed sink
//! ```
//!
//! Builds a pipeline in code (a config file works too:
//! `Pipeline::from_config_file("sinkbox.toml")`), routes the application's
//! `tracing` events into it, emits structured events directly, flushes, and
//! prints each sink's counters at shutdown.

use std::time::Duration;

use sinkbox::sinks::{FileSink, FileSinkOptions};
use sinkbox::wasm::{WasmEngine, WasmSink, WasmSinkOptions};
use sinkbox::{Pipeline, SinkboxLayer};
use tracing_subscriber::prelude::*;

#[derive(serde::Serialize)]
struct Order<'a> {
    level: &'a str,
    message: &'a str,
    order_id: u64,
    total_cents: u64,
}

fn main() -> anyhow::Result<()> {
    let out_dir = std::env::temp_dir().join("sinkbox-embed");
    let mut builder = Pipeline::builder().data_dir(out_dir.join("data")).sink(
        "applog",
        FileSink::new(FileSinkOptions {
            path: out_dir.join("app.ndjson"),
            sync_on_flush: true,
        }),
    );

    // A sandboxed sink, if a component was given: one engine per process,
    // each component compiled once (and cached on disk).
    if let Some(component) = std::env::args().nth(1) {
        let engine = WasmEngine::new(WasmEngine::default_cache_dir())?;
        let component = engine.load(component.as_ref())?;
        builder = builder.sink(
            "sandboxed",
            WasmSink::new("sandboxed", component, WasmSinkOptions::default()),
        );
    }
    let pipeline = builder.build()?;

    // The application's own `tracing` events become records too.
    tracing_subscriber::registry()
        .with(SinkboxLayer::new(pipeline.clone()))
        .init();
    tracing::info!(user = "ada", "checkout started");

    for order_id in 0..1000 {
        pipeline.emit(&Order {
            level: if order_id % 100 == 0 { "warn" } else { "info" },
            message: "order placed",
            order_id,
            total_cents: 1999 + order_id,
        })?;
    }

    let report = pipeline.flush(Duration::from_secs(5));
    println!("flush: {report}");
    for stats in pipeline.shutdown() {
        println!(
            "{}: {} records, {} bytes, {} errors, {} dead-lettered",
            stats.name,
            stats.records,
            stats.bytes,
            stats.errors.total(),
            stats.dead_lettered
        );
    }
    println!(
        "records written to {}",
        out_dir.join("app.ndjson").display()
    );
    Ok(())
}
