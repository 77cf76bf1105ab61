//! Turns a [`Config`] into a running [`Pipeline`].

use super::build_context::{BuildContext, LogBudgets, SequenceCounters};
use super::loader::ConfigLoader;
use super::model::Config;
use crate::pipeline::{Pipeline, SinkSpec};
use crate::registry::config_error::ConfigError;
use crate::registry::sink_registry::SinkRegistry;
use crate::wasm::WasmEngine;

/// What a pipeline built from a configuration remembers of it, so a
/// configuration reload can tell what changed and reuse the engine and the
/// sinks' log budgets.
pub(crate) struct BuiltFrom {
    pub config: Config,
    pub budgets: LogBudgets,
    pub sequences: SequenceCounters,
    pub engine: Option<WasmEngine>,
}

/// Reads a TOML config file, applies the `SINKBOX_SINKS` and
/// `SINKBOX_<SINK>__<OPTION>` environment overrides, and starts the
/// pipeline it describes with the built-in sink types.
pub fn pipeline_from_file(path: impl AsRef<std::path::Path>) -> anyhow::Result<Pipeline> {
    let config = ConfigLoader::new(&SinkRegistry::builtin())
        .file(path)
        .process_env()
        .load()?;
    build_pipeline(&config)
}

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
        .flush_interval(config.runtime.flush_interval)
        .data_dir(config.runtime.data_dir.clone());
    for sink_config in config.roots() {
        let sink = context.build(sink_config)?;
        builder = builder.sink_spec(SinkSpec::with_settings(
            sink_config.name.clone(),
            sink,
            sink_config.settings.clone(),
        ));
    }
    let origin = BuiltFrom {
        config: config.clone(),
        budgets: context.budgets(),
        sequences: context.sequences(),
        engine: context.engine(),
    };
    Ok(builder.origin(Box::new(origin)).build()?)
}

impl Config {
    /// Builds every sink without starting anything, loading and checking
    /// each wasm component; fails with the first problem.
    pub fn check(&self, registry: &SinkRegistry) -> Result<(), ConfigError> {
        match self.problems(registry).into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Like [`Config::check`], but goes on past a problem and returns every
    /// one: what `sinkbox validate` prints.
    pub fn problems(&self, registry: &SinkRegistry) -> Vec<ConfigError> {
        let mut context = BuildContext::new(self, registry);
        let mut problems: Vec<ConfigError> = self
            .roots()
            .filter_map(|sink| context.build(sink).err())
            .collect();
        problems.extend(self.unwritable_paths());
        problems
    }

    /// Every file a sink writes, and the data dir, that sinkbox could not
    /// create or write: each as an error naming the option.
    fn unwritable_paths(&self) -> Vec<ConfigError> {
        use super::path_check::{PathUse, check_writable};
        let mut problems = Vec::new();
        if let Err(why) = check_writable(&self.runtime.data_dir, PathUse::Directory) {
            problems.push(ConfigError {
                origin: "[runtime]".into(),
                line: None,
                path: "runtime.data_dir".into(),
                message: format!(
                    "{why} (dead letters and disk buffers go there; set `data_dir` in [runtime])"
                ),
            });
        }
        for sink in &self.sinks {
            for spec in sink.options.specs().iter().filter(|spec| spec.written) {
                if let Ok(Some(path)) = sink.options.path(spec.name)
                    && let Err(why) = check_writable(&path, PathUse::File)
                {
                    problems.push(sink.options.invalid(spec.name, why));
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use crate::pipeline::{SinkSettings, SinkSpec};
    use crate::registry::sink_registry::SinkRegistry;
    use crate::wasm::WasmSinkOptions;

    /// The registry's declared defaults are what a config gets; the library
    /// defaults (for pipelines built in code) must say the same.
    #[test]
    fn library_defaults_match_the_declared_option_defaults() {
        let config = super::Config::from_toml(
            "[sinks.a]\ntype = \"stdout\"\n",
            "t.toml",
            std::path::Path::new("/"),
        )
        .unwrap();
        let from_config = &config.sinks[0].settings;
        let library = SinkSettings::default();
        assert_eq!(from_config.queue_capacity, library.queue_capacity);
        assert_eq!(from_config.overflow, library.overflow);
        assert_eq!(from_config.retry, library.retry);
        assert_eq!(
            from_config.dead_letter_max_bytes,
            library.dead_letter_max_bytes
        );
        assert_eq!(from_config.optional, library.optional);
        assert_eq!(from_config.rollback_batches, library.rollback_batches);
        let spec = SinkSpec::new("a", crate::sinks::StdoutSink::new(Default::default()));
        assert_eq!(spec.settings.queue_capacity, library.queue_capacity);

        let registry = SinkRegistry::builtin();
        let wasm = registry.get("wasm").unwrap();
        let declared = |name: &str| {
            let spec = wasm.option_specs().iter().find(|s| s.name == name).unwrap();
            spec.kind.parse(spec.default.unwrap()).unwrap()
        };
        let defaults = WasmSinkOptions::default();
        use crate::registry::OptionValue;
        assert_eq!(
            declared("memory_limit"),
            OptionValue::Size(defaults.memory_limit)
        );
        assert_eq!(
            declared("call_timeout"),
            OptionValue::Duration(defaults.call_timeout)
        );
        assert_eq!(
            declared("log_rate"),
            OptionValue::Size(defaults.log_budget.rate())
        );
        assert_eq!(
            declared("log_burst"),
            OptionValue::Size(defaults.log_budget.burst())
        );
    }
}
