//! What a sink constructor may ask for while a configuration is built:
//! compiled components (one engine, each file compiled once) and other named
//! sinks (each built once and shared).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::model::{Config, SinkConfig};
use crate::composite::shared_sink::SharedSink;
use crate::composite::target::CompositeTarget;
use crate::registry::config_error::ConfigError;
use crate::registry::sink_context::SinkContext;
use crate::registry::sink_options::SinkOptions;
use crate::registry::sink_registry::SinkRegistry;
use crate::sink::Sink;
use crate::wasm::{GuestLogBudget, SinkComponent, WasmEngine};

/// The diagnostics budget of every sandboxed sink of a pipeline, by sink
/// name: a configuration reload hands a changed sink the budget it had, so
/// a reload never buys a guest a fresh one.
pub(crate) type LogBudgets = Arc<Mutex<HashMap<String, Arc<GuestLogBudget>>>>;

/// The sequence counter of every composite target of a pipeline, by sink
/// name: a reload that rebuilds a composite hands its targets the counters
/// they had, so their numbers never repeat.
pub(crate) type SequenceCounters = Arc<Mutex<HashMap<String, Arc<std::sync::atomic::AtomicU64>>>>;

/// Builds the sinks of one [`Config`]: what every sink constructor is handed
/// (as a [`SinkContext`]).
pub struct BuildContext<'a> {
    config: &'a Config,
    registry: &'a SinkRegistry,
    engine: Option<WasmEngine>,
    components: HashMap<PathBuf, Arc<SinkComponent>>,
    shared: HashMap<String, SharedSink>,
    building: Vec<String>,
    budgets: LogBudgets,
    sequences: SequenceCounters,
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
            budgets: LogBudgets::default(),
            sequences: SequenceCounters::default(),
        }
    }

    /// Reuses the composite targets' sequence counters of a running pipeline.
    pub(crate) fn with_sequences(mut self, sequences: SequenceCounters) -> Self {
        self.sequences = sequences;
        self
    }

    /// The sequence counters handed out so far (and before).
    pub(crate) fn sequences(&self) -> SequenceCounters {
        self.sequences.clone()
    }

    /// Reuses the diagnostics budgets of a running pipeline.
    pub(crate) fn with_budgets(mut self, budgets: LogBudgets) -> Self {
        self.budgets = budgets;
        self
    }

    /// The diagnostics budgets handed out so far (and before).
    pub(crate) fn budgets(&self) -> LogBudgets {
        self.budgets.clone()
    }

    /// Builds on the engine of a running pipeline (one engine per process).
    pub(crate) fn with_engine(mut self, engine: Option<WasmEngine>) -> Self {
        self.engine = engine;
        self
    }

    /// The wasm engine, if a component was loaded.
    pub(crate) fn engine(&self) -> Option<WasmEngine> {
        self.engine.clone()
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
        let built = sink_type.construct(&sink.options, &mut *self);
        self.building.pop();
        built
    }
}

impl SinkContext for BuildContext<'_> {
    fn secret(&self, name: &str) -> Result<crate::secret::Secret, String> {
        self.config.secrets.resolve(name)
    }

    fn expand_secrets(&self, text: &str) -> Result<(String, bool), String> {
        self.config.secrets.expand(text)
    }

    /// Loads the component named by the path option `option`, compiling it
    /// once per file (through the compile cache) and checking that it fits
    /// the sink contract.
    fn component(
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
    fn target(&mut self, name: &str) -> Result<CompositeTarget, ConfigError> {
        let config = self.config.sink(name).ok_or_else(|| ConfigError {
            origin: "<build>".into(),
            line: None,
            path: format!("sinks.{name}"),
            message: "no sink has this name".into(),
        })?;
        if config.settings.buffer.is_some() {
            return Err(ConfigError {
                origin: "<build>".into(),
                line: None,
                path: format!("sinks.{name}.buffer"),
                message: "a disk buffer goes on a sink the pipeline feeds directly, not on a composite's target; put `buffer` on the composite".into(),
            });
        }
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
            settings: config.settings.clone(),
            data_dir: self.config.runtime.data_dir.clone(),
            sequence: self
                .sequences
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(name.to_owned())
                .or_default()
                .clone(),
        })
    }

    /// The diagnostics budget of sandboxed sink `sink`: the one it already
    /// has in this pipeline if its rate and burst did not change, else a new
    /// one.
    fn log_budget(&mut self, sink: &str, rate: u64, burst: u64) -> Arc<GuestLogBudget> {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(budget) = budgets.get(sink)
            && budget.rate() == rate
            && budget.burst() == burst
        {
            return budget.clone();
        }
        let budget = Arc::new(GuestLogBudget::new(rate, burst));
        budgets.insert(sink.to_owned(), budget.clone());
        budget
    }

    /// Refuses a directory grant that overlaps a path the host itself uses:
    /// the data dir (dead letters), the compile cache, the config file, or
    /// any path option of any configured sink (component files, native sinks'
    /// files, certificates). A guest with such a grant could read or rewrite
    /// what the host trusts.
    fn check_grant(
        &self,
        options: &SinkOptions,
        option: &str,
        grant: &Path,
    ) -> Result<(), ConfigError> {
        let runtime = &self.config.runtime;
        let mut protected: Vec<(String, PathBuf)> = vec![(
            "the data dir ([runtime] data_dir)".into(),
            runtime.data_dir.clone(),
        )];
        if let Some(cache) = runtime.effective_cache_dir() {
            protected.push(("the compile cache ([runtime] cache_dir)".into(), cache));
        }
        if let Some(file) = &runtime.config_file {
            protected.push(("the config file".into(), file.clone()));
        }
        for sink in &self.config.sinks {
            for (name, path) in sink.options.path_values() {
                protected.push((format!("`sinks.{}.{name}`", sink.name), path.to_owned()));
            }
        }
        let grant_abs = comparable(grant);
        for (what, path) in protected {
            let path_abs = comparable(&path);
            if grant_abs.starts_with(&path_abs) || path_abs.starts_with(&grant_abs) {
                return Err(options.invalid(
                    option,
                    format!(
                        "the granted directory `{}` overlaps {what} at `{}`; a sink must not reach \
                         files the host uses. Grant a directory of its own, such as `{}`",
                        grant.display(),
                        path.display(),
                        suggest_grant(grant, options.sink_name()).display()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// `path` made absolute and with symlinks resolved as far as it exists, so
/// two spellings of one place compare equal.
fn comparable(path: &Path) -> PathBuf {
    let absolute = if path.is_relative() {
        std::env::current_dir().unwrap_or_default().join(path)
    } else {
        path.to_owned()
    };
    // Resolve the longest existing prefix; keep the rest as written.
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return normalize(&out);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return normalize(&absolute),
        }
    }
}

/// Removes `.` and resolves `..` lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn suggest_grant(grant: &Path, sink: &str) -> PathBuf {
    grant
        .parent()
        .map(|p| p.join(format!("{sink}-out")))
        .unwrap_or_else(|| PathBuf::from(format!("{sink}-out")))
}
