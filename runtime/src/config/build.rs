//! Turns a [`Config`] into a running [`Pipeline`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Config, SinkKind};
use crate::pipeline::{Pipeline, SinkSpec};
use crate::sink::Sink;
use crate::sinks::{
    DirectSink, FileSink, MmapSink, RelaySink, RotatingFileSink, StdoutPrettySink, StdoutSink,
};
use crate::wasm::{SinkComponent, WasmEngine, WasmSink, WasmSinkOptions};

/// Creates every configured sink and starts the pipeline. Wasm components
/// are compiled once per file (through the compile cache) and share one
/// engine.
pub fn build_pipeline(config: &Config) -> anyhow::Result<Pipeline> {
    let mut engine: Option<WasmEngine> = None;
    let mut components: HashMap<PathBuf, Arc<SinkComponent>> = HashMap::new();
    let mut builder = Pipeline::builder()
        .batch(config.runtime.batch.clone())
        .data_dir(config.runtime.data_dir.clone());
    for sink_config in &config.sinks {
        let sink: Box<dyn Sink> = match &sink_config.kind {
            SinkKind::Stdout(options) => Box::new(StdoutSink::new(options.clone())),
            SinkKind::File(options) => Box::new(FileSink::new(options.clone())),
            SinkKind::Mmap(options) => Box::new(MmapSink::new(options.clone())),
            SinkKind::StdoutPretty(options) => Box::new(StdoutPrettySink::new(options.clone())),
            SinkKind::RotatingFile(options) => Box::new(RotatingFileSink::new(options.clone())),
            SinkKind::Direct(options) => Box::new(DirectSink::new(options.clone())),
            SinkKind::Relay(options) => Box::new(RelaySink::new(options.clone())),
            SinkKind::Wasm(wasm) => {
                let engine = match &engine {
                    Some(engine) => engine,
                    None => engine.insert(config.runtime.wasm_engine()?),
                };
                let component = match components.get(&wasm.component) {
                    Some(component) => component.clone(),
                    None => {
                        let component = engine.load(&wasm.component).map_err(|e| {
                            anyhow::anyhow!("sinks.{}.component: {e}", sink_config.name)
                        })?;
                        components.insert(wasm.component.clone(), component.clone());
                        component
                    }
                };
                Box::new(WasmSink::new(
                    &sink_config.name,
                    component,
                    WasmSinkOptions {
                        memory_limit: wasm.memory_limit,
                        call_timeout: wasm.call_timeout,
                        grant: wasm.grant.clone(),
                        config: wasm.config.clone(),
                        log_capture: None,
                    },
                ))
            }
        };
        builder = builder.sink_spec(SinkSpec {
            name: sink_config.name.clone(),
            sink,
            queue_capacity: sink_config.queue_capacity,
            overflow: sink_config.overflow,
            retry: sink_config.retry.clone(),
        });
    }
    Ok(builder.build()?)
}
