//! The sandboxed host: runs sink components in wasmtime, each instance in its
//! own `Store` with its own memory cap, CPU deadline and no ambient authority.
//!
//! `wasmtime::Error` stops at this module's edge: everything public here
//! returns [`WasmError`] or plain strings.

mod bindings;
mod compile_cache;
mod conformance;
mod diagnostics;
mod engine;
mod epoch;
mod host_state;
mod inspect;
mod wasm_reloader;
mod wasm_sink;
pub(crate) mod wasm_sink_type;

use std::path::PathBuf;

pub use conformance::{ConformanceReport, ConformanceStep, run_conformance};
pub use diagnostics::{GuestLevel, GuestLogBuffer, GuestLogLine, GuestStream};
pub use engine::{SinkComponent, WasmEngine};
pub use epoch::EPOCH_TICK;
pub use inspect::{ComponentReport, inspect_component};
pub use wasm_sink::{DirGrant, WasmSink, WasmSinkOptions};

/// Why a component could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The wasmtime engine could not be set up.
    #[error("could not set up the wasm engine: {0}")]
    Engine(String),
    /// The file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not WebAssembly at all.
    #[error("`{}` is not a WebAssembly file (it does not start with `\\0asm`); give the path of a sink component (.wasm)", path.display())]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// The file is a core module, not a component.
    #[error("`{}` is a core WebAssembly module, not a component; build the sink with `cargo build --target wasm32-wasip2` (or wrap a module with `wasm-tools component new`)", path.display())]
    CoreModule {
        /// The file.
        path: PathBuf,
    },
    /// The component did not compile (corrupt or unsupported).
    #[error("`{}` is not a valid component: {message}", path.display())]
    Compile {
        /// The file.
        path: PathBuf,
        /// What the compiler said.
        message: String,
    },
    /// The component does not fit the sink contract.
    #[error("`{}` is not a sinkbox sink: {message}", path.display())]
    Contract {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
}

/// Renders a wasmtime error with its whole cause chain on one line.
pub(crate) fn describe(err: wasmtime::Error) -> String {
    format!("{:#}", anyhow::Error::from(err))
}

/// Tells a component from a core module or a non-wasm file by its preamble.
pub(crate) fn check_header(path: &std::path::Path, bytes: &[u8]) -> Result<(), WasmError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(WasmError::NotWasm {
            path: path.to_owned(),
        });
    }
    // Core modules have layer 0 in bytes 6..8; components layer 1.
    if bytes[6..8] == [0, 0] {
        return Err(WasmError::CoreModule {
            path: path.to_owned(),
        });
    }
    Ok(())
}
