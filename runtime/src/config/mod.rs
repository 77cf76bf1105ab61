//! The configuration: the runtime's settings and its named sinks, from a
//! TOML file, sink URIs, environment variables and command-line overrides.
//!
//! ```toml
//! [runtime]
//! data_dir = "sinkbox-data"          # dead-letter files live here
//! [runtime.batch]
//! max_records = 1024
//! max_bytes = "1MiB"
//! timeout = "200ms"
//!
//! [sinks.console]
//! type = "stdout"
//!
//! [sinks.errors]
//! type = "wasm"
//! component = "filter_sink.wasm"
//! grant = { path = "out/errors" }
//! config = { min_level = "error" }
//! ```
//!
//! Relative paths are resolved against the directory of the file that set
//! them (the working directory for env and command-line values). Sources
//! apply in this order, later ones winning: the file, then the environment
//! (`SINKBOX_SINKS`, `SINKBOX_<SINK>__<OPTION>`), then the command line
//! (`--sink`, `--set`). See [`ConfigLoader`].

mod build;
pub(crate) mod byte_size;
mod loader;
mod raw_sink;
mod sink_graph;
mod sink_uri;
mod source_map;
mod suggest;

use std::path::{Path, PathBuf};

pub use build::{build_pipeline, build_pipeline_with};
pub use loader::ConfigLoader;
pub use sink_uri::redact as redact_uri;
pub(crate) use suggest::did_you_mean;

use crate::pipeline::{BatchOptions, OverflowPolicy, RetryPolicy};
use crate::registry::{OptionKind, OptionSpec, SinkOptions, SinkRegistry};

/// A parsed configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Runtime-wide settings.
    pub runtime: RuntimeConfig,
    /// The sinks: the file's in file order, then those from URIs.
    pub sinks: Vec<SinkConfig>,
}

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
    /// The config file these settings came from, if any: a directory grant
    /// may not reach it.
    pub config_file: Option<PathBuf>,
}

/// Default of `[runtime] max_component_size`: 256 MiB, ten times the largest
/// component any supported toolchain makes today.
pub const DEFAULT_MAX_COMPONENT_SIZE: u64 = 256 << 20;

impl RuntimeConfig {
    /// A wasm engine whose compile cache is this config's `cache_dir` (or the
    /// default cache directory).
    pub fn wasm_engine(&self) -> Result<crate::wasm::WasmEngine, crate::wasm::WasmError> {
        let cache_dir = self
            .cache_dir
            .clone()
            .or_else(crate::wasm::WasmEngine::default_cache_dir);
        Ok(crate::wasm::WasmEngine::new(cache_dir)?
            .with_max_component_size(self.max_component_size))
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
    /// Batches the sink's queue holds (default 64).
    pub queue_capacity: usize,
    /// What happens when the queue is full (default `block`).
    pub overflow: OverflowPolicy,
    /// Retry, back-off and restart limits.
    pub retry: RetryPolicy,
    /// The type's own options.
    pub options: SinkOptions,
    /// Other sinks this one sends to (a composite's `targets`).
    pub targets: Vec<String>,
    /// Cap on the sink's dead-letter store, in bytes.
    pub dead_letter_max_bytes: u64,
    /// Whether the pipeline runs without the sink if it cannot start.
    pub optional: bool,
    /// Batches after a hot reload within which a fault rolls it back.
    pub rollback_batches: u32,
}

/// Options every sink accepts, whatever its type.
pub const COMMON_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("queue_capacity", OptionKind::Integer)
        .default("64")
        .help("batches the sink's queue holds"),
    OptionSpec::new(
        "overflow",
        OptionKind::Choice(&["block", "drop_newest", "drop_oldest"]),
    )
    .default("block")
    .help("what a full queue does: wait, or drop the newest or oldest batch"),
    OptionSpec::new("max_retries", OptionKind::Integer)
        .default("5")
        .help("retries of a batch answered retryable or partial before it is dead-lettered"),
    OptionSpec::new("initial_backoff", OptionKind::Duration)
        .default("100ms")
        .help("wait before the first retry, doubled each retry"),
    OptionSpec::new("max_backoff", OptionKind::Duration)
        .default("5s")
        .help("upper bound of that wait"),
    OptionSpec::new("max_restarts", OptionKind::Integer)
        .default("3")
        .help("restarts of a failed sink for one batch before it is dead-lettered"),
    OptionSpec::new("dead_letter_max_bytes", OptionKind::Size)
        .default("256MiB")
        .help("cap on the sink's dead-letter files together; past it the oldest file is deleted and its records counted as dropped"),
    OptionSpec::new("optional", OptionKind::Bool)
        .default("false")
        .help("if `start` fails at boot, run without the sink (reported unhealthy) and retry `start` with back-off, instead of refusing to run"),
    OptionSpec::new("rollback_batches", OptionKind::Integer)
        .default("3")
        .help("after a hot reload, a fault (trap, deadline, memory, fatal) within this many batches swaps the previous module back; 0 turns rollback off"),
];

/// Whether every sink accepts `option`.
pub(crate) fn is_common_option(option: &str) -> bool {
    COMMON_OPTIONS.iter().any(|spec| spec.name == option)
}

/// Where a value came from: a file and line, an environment variable, or a
/// command-line flag; and the directory its relative paths resolve against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpot {
    /// `app.toml`, `SINKBOX_APPLOG__PATH`, `--sink ...` or `--set ...`.
    pub origin: String,
    /// The 1-based line, for files.
    pub line: Option<usize>,
    /// Where relative paths are resolved.
    pub base_dir: PathBuf,
}

impl SourceSpot {
    pub(crate) fn new(origin: impl Into<String>, line: Option<usize>, base_dir: &Path) -> Self {
        Self {
            origin: origin.into(),
            line,
            base_dir: base_dir.to_owned(),
        }
    }

    pub(crate) fn error(&self, path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: self.origin.clone(),
            line: self.line,
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A configuration problem: where it is and what would be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {}{message}",
    line.map(|l| format!(":{l}")).unwrap_or_default(),
    if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ConfigError {
    /// The file, environment variable or flag (`<inline>` for text).
    pub origin: String,
    /// The 1-based line in the file, when known.
    pub line: Option<usize>,
    /// The field path, such as `sinks.applog.path`; empty for the whole file.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Config {
    /// Reads and parses a config file with the built-in sink types, without
    /// environment or command-line overrides.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        ConfigLoader::new(&SinkRegistry::builtin())
            .file(path)
            .load()
    }

    /// Parses TOML text with the built-in sink types; `origin` names it in
    /// errors and relative paths are resolved against `base_dir`.
    pub fn from_toml(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        ConfigLoader::new(&SinkRegistry::builtin())
            .toml(text, origin, base_dir)
            .load()
    }

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
        let mut context = crate::registry::BuildContext::new(self, registry);
        self.roots()
            .filter_map(|sink| context.build(sink).err())
            .collect()
    }
}
