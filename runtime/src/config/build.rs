//! Turns a [`Config`] into a running [`Pipeline`].

use super::Config;
use crate::pipeline::{Pipeline, SinkSpec};
use crate::registry::{BuildContext, SinkRegistry};

/// Builds every configured sink with the built-in types and starts the
/// pipeline. See [`build_pipeline_with`].
pub fn build_pipeline(config: &Config) -> anyhow::Result<Pipeline> {
    build_pipeline_with(config, &SinkRegistry::builtin())
}

/// Builds every configured sink with `registry`'s types and starts the
/// pipeline. Each top-level sink (one no composite names) gets its own queue
/// and worker; composite targets are built once and shared. Wasm components
/// share one engine and are compiled once per file (through the compile
/// cache).
pub fn build_pipeline_with(config: &Config, registry: &SinkRegistry) -> anyhow::Result<Pipeline> {
    let mut context = BuildContext::new(config, registry);
    let mut builder = Pipeline::builder()
        .batch(config.runtime.batch.clone())
        .data_dir(config.runtime.data_dir.clone())
        .config(config.clone());
    for sink_config in config.roots() {
        let sink = context.build(sink_config)?;
        builder = builder.sink_spec(SinkSpec {
            name: sink_config.name.clone(),
            sink,
            queue_capacity: sink_config.queue_capacity,
            overflow: sink_config.overflow,
            retry: sink_config.retry.clone(),
            dead_letter_max_bytes: sink_config.dead_letter_max_bytes,
            optional: sink_config.optional,
            rollback_batches: sink_config.rollback_batches,
        });
    }
    Ok(builder.log_budgets(context.budgets()).build()?)
}
