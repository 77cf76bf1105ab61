//! The parsed configuration: runtime settings and named sinks.

use std::path::PathBuf;

use super::secrets::SecretStore;
use crate::pipeline::{BatchOptions, SinkSettings};
use crate::registry::sink_options::SinkOptions;

/// A parsed configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Runtime-wide settings.
    pub runtime: RuntimeConfig,
    /// The sinks: the file's in file order, then those from URIs.
    pub sinks: Vec<SinkConfig>,
    /// The `[secrets]` table: named values sinks may use, never printed.
    pub secrets: SecretStore,
    /// The `[sources.<name>]` tables, in file order.
    pub sources: Vec<SourceConfig>,
}

/// One `[sources.<name>]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    /// Its name.
    pub name: String,
    /// Its type and options.
    pub kind: SourceKind,
}

pub use crate::sources::SourceKind;

/// The `[runtime]` table.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Where dead-letter files go (default `sinkbox-data`).
    pub data_dir: PathBuf,
    /// Where compiled components are cached (default: see
    /// [`WasmEngine::default_cache_dir`](crate::wasm::WasmEngine::default_cache_dir)).
    pub cache_dir: Option<PathBuf>,
    /// When batches close.
    pub batch: BatchOptions,
    /// Largest component file sinkbox reads (default 256 MiB); a larger file
    /// is refused before it is read.
    pub max_component_size: u64,
    /// Most bytes of compiled components the compile cache keeps (default
    /// 1 GiB); past it the least recently used go.
    pub cache_max_size: u64,
    /// How often sinks are flushed while records flow (default 1 s; zero:
    /// only on demand and at shutdown).
    pub flush_interval: std::time::Duration,
    /// Whether wasm sinks compile with Cranelift's per-function cache
    /// (default off): a rebuilt component then compiles only the functions
    /// that changed, at about 1.5x the cost of a first compile. For `sinkbox
    /// run --watch` while a sink is being written.
    pub incremental_compilation: bool,
    /// The config file these settings came from, if any: a directory grant
    /// may not reach it.
    pub config_file: Option<PathBuf>,
}

impl RuntimeConfig {
    /// A wasm engine whose compile cache is this config's `cache_dir` (or the
    /// default cache directory).
    pub fn wasm_engine(&self) -> Result<crate::wasm::WasmEngine, crate::wasm::WasmError> {
        let cache_dir = self
            .cache_dir
            .clone()
            .or_else(crate::wasm::WasmEngine::default_cache_dir);
        let engine = if self.incremental_compilation {
            crate::wasm::WasmEngine::incremental(cache_dir)?
        } else {
            crate::wasm::WasmEngine::new(cache_dir)?
        };
        Ok(engine
            .with_max_component_size(self.max_component_size)
            .with_cache_max_size(self.cache_max_size))
    }

    /// The compile cache directory this config uses, if any.
    pub fn effective_cache_dir(&self) -> Option<PathBuf> {
        self.cache_dir
            .clone()
            .or_else(crate::wasm::WasmEngine::default_cache_dir)
    }
}

/// One named sink.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    /// The sink's name.
    pub name: String,
    /// Its registered type.
    pub type_name: String,
    /// The settings every sink has: queue, retries, dead letters, fault
    /// policy, `when` and `buffer`.
    pub settings: SinkSettings,
    /// The type's own options.
    pub options: SinkOptions,
    /// Other sinks this one sends to (a composite's `targets`).
    pub targets: Vec<String>,
}

impl Config {
    /// The sink named `name`.
    pub fn sink(&self, name: &str) -> Option<&SinkConfig> {
        self.sinks.iter().find(|sink| sink.name == name)
    }

    /// The sinks the pipeline feeds directly: every sink that no composite
    /// names as a target.
    pub fn roots(&self) -> impl Iterator<Item = &SinkConfig> {
        self.sinks.iter().filter(|sink| {
            !self
                .sinks
                .iter()
                .any(|other| other.targets.iter().any(|t| t == &sink.name))
        })
    }
}
