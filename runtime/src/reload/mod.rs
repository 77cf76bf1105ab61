//! Hot reload: replacing a running sink's module, or the whole
//! configuration, without losing or repeating a record.
//!
//! A new module is compiled, checked against the contract, instantiated
//! under the sink's limits and started, all off the emit path and while the
//! old instance keeps working. Only then is it swapped in, at a batch
//! boundary, by the sink's own worker: the old instance finishes the batch
//! it is in, is flushed and stopped, and every batch after goes to the new
//! one. Anything that fails before the swap leaves the old instance running.

mod config_reload;
mod module_reload;
mod module_watcher;

use std::path::PathBuf;
use std::time::Duration;

pub use module_watcher::{ConfigReloaded, ConfigSource, ReloadWatcher, WatchOptions};

pub use crate::wasm::SinkReloader;

/// Where a new module comes from.
#[derive(Clone, Debug)]
pub enum ModuleSource {
    /// Read this file.
    Path(PathBuf),
    /// These bytes (named, in messages, by the sink's current module path).
    Bytes(Vec<u8>),
}

/// A module reload that took effect (or was not needed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReloadReport {
    /// The sink.
    pub sink: String,
    /// The SHA-256 (hex) of the module now running.
    pub module_hash: String,
    /// `true` if the new module was the one already running: nothing was done.
    pub unchanged: bool,
    /// Compiling, instantiating and starting the new instance (off the
    /// emit path; the old instance kept working meanwhile).
    pub prepare: Duration,
    /// How long the sink's worker spent on the swap: flushing and stopping
    /// the old instance. Batches wait in the queue meanwhile; `emit` does not.
    pub pause: Duration,
}

/// Why a reload did not take effect. The old instance keeps running.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReloadError {
    /// No top-level sink has this name.
    #[error("no sink is named `{0}`")]
    NoSuchSink(String),
    /// The sink is not a module that can be swapped (a native sink, or a
    /// composite).
    #[error(
        "sink `{0}` is not a wasm sink; only wasm sinks' modules can be reloaded (reload the configuration to change other sinks)"
    )]
    NotReloadable(String),
    /// The new module was refused: it did not compile, did not fit the
    /// contract, or its `start` failed.
    #[error("sink `{sink}` keeps its running module; the new one was refused: {message}")]
    Refused {
        /// The sink.
        sink: String,
        /// What was wrong with the new module.
        message: String,
    },
    /// The pipeline is shut down.
    #[error("the pipeline is shut down")]
    ShutDown,
}

/// What a configuration reload did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigReloadReport {
    /// Sinks started.
    pub added: Vec<String>,
    /// Sinks drained and stopped.
    pub removed: Vec<String>,
    /// Sinks whose instance was replaced, keeping their queue.
    pub changed: Vec<String>,
    /// Sinks whose `when` changed and nothing else: the pipeline applies
    /// the new condition to every later batch; the sink keeps running.
    pub rerouted: Vec<String>,
    /// Sinks left running untouched.
    pub unchanged: Vec<String>,
}

impl std::fmt::Display for ConfigReloadReport {
    /// `added a; changed b, c; when changed d; unchanged e`: the groups
    /// that are not empty, or `nothing changed`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let groups = [
            ("added", &self.added),
            ("removed", &self.removed),
            ("changed", &self.changed),
            ("when changed", &self.rerouted),
            ("unchanged", &self.unchanged),
        ];
        let parts: Vec<String> = groups
            .iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(what, names)| format!("{what} {}", names.join(", ")))
            .collect();
        if self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.rerouted.is_empty()
        {
            return f.write_str("nothing changed");
        }
        f.write_str(&parts.join("; "))
    }
}
