//! What a sink constructor may ask for while a configuration is built:
//! compiled components (one engine, each file compiled once) and other named
//! sinks (each built once and shared).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{SinkOptions, SinkRegistry};
use crate::composite::{CompositeTarget, SharedSink};
use crate::config::{Config, ConfigError, RuntimeConfig, SinkConfig};
use crate::sink::Sink;
use crate::wasm::{SinkComponent, WasmEngine};

/// Handed to every sink constructor while a [`Config`] is built.
pub struct BuildContext<'a> {
    config: &'a Config,
    registry: &'a SinkRegistry,
    engine: Option<WasmEngine>,
    components: HashMap<PathBuf, Arc<SinkComponent>>,
    shared: HashMap<String, SharedSink>,
    building: Vec<String>,
}

impl<'a> BuildContext<'a> {
    pub(crate) fn new(config: &'a Config, registry: &'a SinkRegistry) -> Self {
        Self {
            config,
            registry,
            engine: None,
            components: HashMap::new(),
            shared: HashMap::new(),
            building: Vec::new(),
        }
    }

    /// The runtime settings of the configuration being built.
    pub fn runtime(&self) -> &RuntimeConfig {
        &self.config.runtime
    }

    /// Loads the component named by the path option `option`, compiling it
    /// once per file (through the compile cache) and checking that it fits
    /// the sink contract.
    pub fn component(
        &mut self,
        options: &SinkOptions,
        option: &str,
    ) -> Result<Arc<SinkComponent>, ConfigError> {
        let path = options.require_path(option)?;
        if let Some(component) = self.components.get(&path) {
            return Ok(component.clone());
        }
        if self.engine.is_none() {
            let engine =
                self.config.runtime.wasm_engine().map_err(|e| {
                    options.invalid_sink(format!("cannot start the wasm engine: {e}"))
                })?;
            self.engine = Some(engine);
        }
        let engine = self.engine.as_ref().expect("set above");
        let component = engine
            .load(&path)
            .map_err(|e| options.invalid(option, e.to_string()))?;
        self.components.insert(path, component.clone());
        Ok(component)
    }

    /// The sink named `name`, built once: every composite naming it gets the
    /// same instance.
    pub fn target(&mut self, name: &str) -> Result<CompositeTarget, ConfigError> {
        let config = self.config.sink(name).ok_or_else(|| ConfigError {
            origin: "<build>".into(),
            line: None,
            path: format!("sinks.{name}"),
            message: "no sink has this name".into(),
        })?;
        let shared = match self.shared.get(name) {
            Some(shared) => shared.clone(),
            None => {
                let sink = self.build(config)?;
                let shared = SharedSink::new(name, sink);
                self.shared.insert(name.to_owned(), shared.clone());
                shared
            }
        };
        Ok(CompositeTarget {
            name: name.to_owned(),
            sink: shared,
            queue_capacity: config.queue_capacity,
            overflow: config.overflow,
            retry: config.retry.clone(),
            data_dir: self.config.runtime.data_dir.clone(),
        })
    }

    /// Builds one configured sink with its type's constructor.
    pub(crate) fn build(&mut self, sink: &SinkConfig) -> Result<Box<dyn Sink>, ConfigError> {
        if self.building.iter().any(|n| n == &sink.name) {
            let mut cycle = self.building.clone();
            cycle.push(sink.name.clone());
            return Err(sink
                .options
                .invalid_sink(format!("composite cycle: {}", cycle.join(" -> "))));
        }
        let sink_type = self.registry.get(&sink.type_name).ok_or_else(|| {
            sink.options.invalid(
                "type",
                format!("the sink type `{}` is not registered", sink.type_name),
            )
        })?;
        self.building.push(sink.name.clone());
        let built = sink_type.construct(&sink.options, self);
        self.building.pop();
        built
    }
}
