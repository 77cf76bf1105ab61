//! The TOML configuration: the runtime's settings and its named sinks.
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
//! Relative paths are resolved against the directory of the config file.

mod build;
pub(crate) mod byte_size;
mod suggest;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

pub use build::build_pipeline;

use crate::pipeline::{BatchOptions, DEFAULT_QUEUE_CAPACITY, OverflowPolicy, RetryPolicy};
use crate::sinks::{
    DirectSinkOptions, FileSinkOptions, MmapSinkOptions, RelaySinkOptions, RotatingFileSinkOptions,
    StdoutPrettySinkOptions, StdoutSinkOptions,
};

/// A parsed configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Runtime-wide settings.
    pub runtime: RuntimeConfig,
    /// The sinks, in the order the file lists them.
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
}

impl RuntimeConfig {
    /// A wasm engine whose compile cache is this config's `cache_dir` (or the
    /// default cache directory).
    pub fn wasm_engine(&self) -> Result<crate::wasm::WasmEngine, crate::wasm::WasmError> {
        let cache_dir = self
            .cache_dir
            .clone()
            .or_else(crate::wasm::WasmEngine::default_cache_dir);
        crate::wasm::WasmEngine::new(cache_dir)
    }
}

/// One `[sinks.<name>]` table.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    /// The table's name.
    pub name: String,
    /// Batches the sink's queue holds (default 64).
    pub queue_capacity: usize,
    /// What happens when the queue is full (default `block`).
    pub overflow: OverflowPolicy,
    /// Retry, back-off and restart limits.
    pub retry: RetryPolicy,
    /// The sink type and its own options.
    pub kind: SinkKind,
}

/// A sink type with its options.
#[derive(Clone, Debug)]
pub enum SinkKind {
    /// `type = "stdout"`.
    Stdout(StdoutSinkOptions),
    /// `type = "file"`.
    File(FileSinkOptions),
    /// `type = "mmap"`.
    Mmap(MmapSinkOptions),
    /// `type = "stdout_pretty"`.
    StdoutPretty(StdoutPrettySinkOptions),
    /// `type = "rotating_file"`.
    RotatingFile(RotatingFileSinkOptions),
    /// `type = "direct"`.
    Direct(DirectSinkOptions),
    /// `type = "relay"`.
    Relay(RelaySinkOptions),
    /// `type = "wasm"`.
    Wasm(WasmSinkConfig),
}

impl SinkKind {
    /// The `type` name, as written in the config.
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkKind::Stdout(_) => "stdout",
            SinkKind::File(_) => "file",
            SinkKind::Mmap(_) => "mmap",
            SinkKind::StdoutPretty(_) => "stdout_pretty",
            SinkKind::RotatingFile(_) => "rotating_file",
            SinkKind::Direct(_) => "direct",
            SinkKind::Relay(_) => "relay",
            SinkKind::Wasm(_) => "wasm",
        }
    }
}

/// The options of a `type = "wasm"` sink.
#[derive(Clone, Debug)]
pub struct WasmSinkConfig {
    /// The component file.
    pub component: PathBuf,
    /// Linear memory cap in bytes.
    pub memory_limit: u64,
    /// CPU deadline of one call.
    pub call_timeout: Duration,
    /// An optional directory grant.
    pub grant: Option<crate::wasm::DirGrant>,
    /// The sink's own key/value options.
    pub config: Vec<(String, String)>,
}

/// The sink types this build knows, with a one-line description.
pub const SINK_TYPES: &[(&str, &str)] = &[
    ("stdout", "every record as one JSON line on standard output"),
    (
        "stdout_pretty",
        "human-readable lines on standard output, coloured on a terminal",
    ),
    ("file", "appends every record as one JSON line to a file"),
    (
        "rotating_file",
        "JSON or text lines in a file rotated by size and/or time, with retention and gzip",
    ),
    (
        "mmap",
        "appends every record as one JSON line through a memory-mapped file",
    ),
    (
        "direct",
        "streams NDJSON to a tcp://, unix://, ws:// or wss:// endpoint, reconnecting as needed",
    ),
    (
        "relay",
        "hands records to a local relay over a Unix socket, buffering while it is away",
    ),
    ("wasm", "a sandboxed sink component (.wasm)"),
];

/// Options every sink accepts, whatever its type.
const COMMON_OPTIONS: &[&str] = &[
    "type",
    "queue_capacity",
    "overflow",
    "max_retries",
    "initial_backoff",
    "max_backoff",
    "max_restarts",
];

/// A configuration problem: where it is and what would be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ConfigError {
    /// The file (or `<inline>`).
    pub origin: String,
    /// The field path, such as `sinks.applog.path`; empty for the whole file.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRuntime {
    data_dir: PathBuf,
    cache_dir: Option<PathBuf>,
    batch: BatchOptions,
}

impl Default for RawRuntime {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("sinkbox-data"),
            cache_dir: None,
            batch: BatchOptions::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommon {
    #[serde(default = "default_queue_capacity")]
    queue_capacity: usize,
    #[serde(default)]
    overflow: OverflowPolicy,
    max_retries: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    initial_backoff: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    max_backoff: Option<Duration>,
    max_restarts: Option<u32>,
}

fn default_queue_capacity() -> usize {
    DEFAULT_QUEUE_CAPACITY
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWasm {
    component: PathBuf,
    #[serde(default = "default_memory_limit", with = "byte_size")]
    memory_limit: u64,
    #[serde(default = "default_call_timeout", with = "humantime_serde")]
    call_timeout: Duration,
    grant: Option<RawGrant>,
    #[serde(default)]
    config: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    path: PathBuf,
    #[serde(default = "default_guest_path")]
    guest_path: String,
    #[serde(default)]
    read_only: bool,
}

fn default_memory_limit() -> u64 {
    64 * 1024 * 1024
}

fn default_call_timeout() -> Duration {
    Duration::from_secs(2)
}

fn default_guest_path() -> String {
    "/data".to_owned()
}

impl Config {
    /// Reads and parses a config file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            path: String::new(),
            message: format!("cannot read the config file: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, &origin, base)
    }

    /// Parses TOML text; `origin` names it in errors and relative paths are
    /// resolved against `base_dir`.
    pub fn from_toml(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        let parser = Parser { origin, base_dir };
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| parser.error("", e.to_string().trim_end()))?;
        for key in table.keys() {
            if key != "runtime" && key != "sinks" {
                return Err(parser.error(
                    key,
                    "unknown top-level table; expected `runtime` or `sinks`",
                ));
            }
        }
        let runtime: RawRuntime = match table.remove("runtime") {
            Some(value) => parser.deserialize("runtime", value)?,
            None => RawRuntime::default(),
        };
        let sinks_table = match table.remove("sinks") {
            Some(toml::Value::Table(sinks)) => sinks,
            Some(_) => {
                return Err(parser.error(
                    "sinks",
                    "expected a table of named sinks, such as `[sinks.console]`",
                ));
            }
            None => toml::Table::new(),
        };
        if sinks_table.is_empty() {
            return Err(parser.error(
                "sinks",
                "no sinks are configured; add at least one, such as:\n  [sinks.console]\n  type = \"stdout\"",
            ));
        }
        let mut sinks = Vec::new();
        for (name, value) in sinks_table {
            sinks.push(parser.sink(&name, value)?);
        }
        Ok(Config {
            runtime: RuntimeConfig {
                data_dir: parser.resolve(runtime.data_dir),
                cache_dir: runtime.cache_dir.map(|dir| parser.resolve(dir)),
                batch: runtime.batch,
            },
            sinks,
        })
    }
}

struct Parser<'a> {
    origin: &'a str,
    base_dir: &'a Path,
}

impl Parser<'_> {
    fn error(&self, path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: self.origin.to_owned(),
            path: path.to_owned(),
            message: message.into(),
        }
    }

    fn resolve(&self, path: PathBuf) -> PathBuf {
        if path.is_relative() {
            self.base_dir.join(path)
        } else {
            path
        }
    }

    /// Deserializes `value`, reporting the exact field path on error.
    fn deserialize<T: DeserializeOwned>(
        &self,
        prefix: &str,
        value: toml::Value,
    ) -> Result<T, ConfigError> {
        serde_path_to_error::deserialize(value).map_err(|err| {
            let inner = err.path().to_string();
            let path = if inner == "." || inner.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}.{inner}")
            };
            self.error(&path, err.into_inner().message().trim_end())
        })
    }

    fn sink(&self, name: &str, value: toml::Value) -> Result<SinkConfig, ConfigError> {
        let at = format!("sinks.{name}");
        let toml::Value::Table(mut table) = value else {
            return Err(self.error(&at, "expected a table with at least `type = \"...\"`"));
        };
        let known_types = || {
            SINK_TYPES
                .iter()
                .map(|(name, _)| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let kind_name = match table.remove("type") {
            Some(toml::Value::String(kind)) => kind,
            Some(_) => {
                return Err(self.error(
                    &format!("{at}.type"),
                    format!("expected a string, one of {}", known_types()),
                ));
            }
            None => {
                return Err(self.error(
                    &format!("{at}.type"),
                    format!(
                        "missing; every sink needs `type = \"...\"`, one of {}",
                        known_types()
                    ),
                ));
            }
        };
        let mut common = toml::Table::new();
        for key in &COMMON_OPTIONS[1..] {
            if let Some(value) = table.remove(*key) {
                common.insert((*key).to_owned(), value);
            }
        }
        let common: RawCommon = self.deserialize(&at, toml::Value::Table(common))?;
        let defaults = RetryPolicy::default();
        let retry = RetryPolicy {
            max_retries: common.max_retries.unwrap_or(defaults.max_retries),
            initial_backoff: common.initial_backoff.unwrap_or(defaults.initial_backoff),
            max_backoff: common.max_backoff.unwrap_or(defaults.max_backoff),
            max_restarts: common.max_restarts.unwrap_or(defaults.max_restarts),
        };
        let options = toml::Value::Table(table);
        let kind = match kind_name.as_str() {
            "stdout" => SinkKind::Stdout(self.sink_options(&at, options)?),
            "file" => {
                let mut file: FileSinkOptions = self.sink_options(&at, options)?;
                file.path = self.resolve(file.path);
                SinkKind::File(file)
            }
            "stdout_pretty" => SinkKind::StdoutPretty(self.sink_options(&at, options)?),
            "rotating_file" => {
                let mut rotating: RotatingFileSinkOptions = self.sink_options(&at, options)?;
                rotating
                    .validate()
                    .map_err(|message| self.error(&at, message))?;
                rotating.path = self.resolve(rotating.path);
                SinkKind::RotatingFile(rotating)
            }
            "direct" => {
                let mut direct: DirectSinkOptions = self.sink_options(&at, options)?;
                direct.ca_file = direct.ca_file.map(|path| self.resolve(path));
                SinkKind::Direct(direct)
            }
            "relay" => {
                let mut relay: RelaySinkOptions = self.sink_options(&at, options)?;
                relay.socket = self.resolve(relay.socket);
                SinkKind::Relay(relay)
            }
            "mmap" => {
                let mut mmap: MmapSinkOptions = self.sink_options(&at, options)?;
                mmap.path = self.resolve(mmap.path);
                SinkKind::Mmap(mmap)
            }
            "wasm" => SinkKind::Wasm(self.wasm(&at, options)?),
            other => {
                let mut message = format!(
                    "unknown sink type `{other}`; known types: {}",
                    known_types()
                );
                if let Some(close) =
                    suggest::did_you_mean(other, SINK_TYPES.iter().map(|(n, _)| *n))
                {
                    message.push_str(&format!(" (did you mean `{close}`?)"));
                }
                return Err(self.error(&format!("{at}.type"), message));
            }
        };
        Ok(SinkConfig {
            name: name.to_owned(),
            queue_capacity: common.queue_capacity,
            overflow: common.overflow,
            retry,
            kind,
        })
    }

    /// Deserializes a type's own options; an unknown option also lists the
    /// options every sink accepts.
    fn sink_options<T: DeserializeOwned>(
        &self,
        at: &str,
        value: toml::Value,
    ) -> Result<T, ConfigError> {
        self.deserialize(at, value).map_err(|mut err| {
            if err.message.starts_with("unknown field") {
                err.message.push_str(&format!(
                    "; every sink also accepts {}",
                    COMMON_OPTIONS.join(", ")
                ));
            }
            err
        })
    }

    fn wasm(&self, at: &str, value: toml::Value) -> Result<WasmSinkConfig, ConfigError> {
        let raw: RawWasm = self.sink_options(at, value)?;
        let mut config = Vec::new();
        for (key, value) in raw.config {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Datetime(d) => d.to_string(),
                _ => {
                    return Err(self.error(
                        &format!("{at}.config.{key}"),
                        "expected a string, number or boolean; a sink's config is flat key/value pairs",
                    ));
                }
            };
            config.push((key, text));
        }
        if raw.memory_limit < 64 * 1024 {
            return Err(self.error(
                &format!("{at}.memory_limit"),
                "must be at least 64KiB (one wasm page); the default is \"64MiB\"",
            ));
        }
        if raw.call_timeout.is_zero() {
            return Err(self.error(
                &format!("{at}.call_timeout"),
                "must be more than zero, such as \"2s\"",
            ));
        }
        Ok(WasmSinkConfig {
            component: self.resolve(raw.component),
            memory_limit: raw.memory_limit,
            call_timeout: raw.call_timeout,
            grant: raw.grant.map(|grant| crate::wasm::DirGrant {
                host_path: self.resolve(grant.path),
                guest_path: grant.guest_path,
                read_only: grant.read_only,
            }),
            config,
        })
    }
}
