//! The sandboxed host: runs sink components in wasmtime, each instance in its
//! own `Store` with its own memory cap, CPU deadline and no ambient authority.
//!
//! `wasmtime::Error` stops at this module's edge: everything public here
//! returns [`WasmError`] or plain strings.

mod bindings;
mod call_budget;
mod compile_cache;
mod conformance;
mod contract;
mod diagnostics;
mod engine;
mod epoch;
mod function_cache;
pub(crate) mod guest_text;
mod host_state;
mod http_egress;
mod http_grant;
mod http_hooks;
mod inspect;
mod log_budget;
mod sink_reloader;
mod wasm_reloader;
mod wasm_sink;
pub(crate) mod wasm_sink_type;

use std::path::PathBuf;

pub use compile_cache::{CacheEntry, DEFAULT_CACHE_MAX_SIZE, cache_entries, prune_cache};
pub use conformance::{BatchRun, ConformanceReport, ConformanceStep, run_batches, run_conformance};
pub use contract::ContractVersion;
pub use diagnostics::{GuestLevel, GuestLogBuffer, GuestLogLine, GuestStream};
pub use engine::{SinkComponent, WasmEngine};
pub use epoch::EPOCH_TICK;
pub use guest_text::{MAX_GUEST_TEXT_BYTES, lift_guest_text};
pub use http_egress::{HttpStats, RequestRecord, SinkEgress};
pub use http_grant::{AllowEntry, HttpGrant, Refusal, parse_allow_entry};
pub use inspect::{ComponentReport, inspect_component};
pub use log_budget::{DEFAULT_LOG_BURST, DEFAULT_LOG_RATE, GuestLogBudget, LINE_OVERHEAD_BYTES};
pub use sink_reloader::SinkReloader;
pub use wasm_sink::{DirGrant, WasmSink, WasmSinkOptions};

/// Default of `[runtime] max_component_size`: 256 MiB, ten times the largest
/// component any supported toolchain makes today.
pub const DEFAULT_MAX_COMPONENT_SIZE: u64 = 256 << 20;

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
    /// The path is not a regular file (a directory, a FIFO, a device).
    #[error("`{}` is not a regular file ({kind}); give the path of a sink component (.wasm)", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file is larger than `max_component_size`.
    #[error("`{}` is {size} bytes, over the max_component_size of {limit} bytes; raise `[runtime] max_component_size` if this component is meant to be that large", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
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

/// Reads a component file, refusing what is not a regular file and what is
/// larger than `limit`, before reading it (and reading at most `limit + 1`
/// bytes, should the file grow meanwhile).
pub(crate) fn read_component_file(
    path: &std::path::Path,
    limit: u64,
) -> Result<Vec<u8>, WasmError> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let read_err = |source| WasmError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    let file_type = meta.file_type();
    if !file_type.is_file() {
        let kind = if file_type.is_dir() {
            "a directory"
        } else if file_type.is_fifo() {
            "a FIFO"
        } else if file_type.is_socket() {
            "a socket"
        } else if file_type.is_block_device() || file_type.is_char_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(WasmError::NotAFile {
            path: path.to_owned(),
            kind,
        });
    }
    if meta.len() > limit {
        return Err(WasmError::TooLarge {
            path: path.to_owned(),
            size: meta.len(),
            limit,
        });
    }
    // O_NONBLOCK: should the path be swapped for a FIFO after the check
    // above, opening it does not wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.file_type().is_file() {
        return Err(WasmError::NotAFile {
            path: path.to_owned(),
            kind: "not a regular file",
        });
    }
    let mut bytes = Vec::with_capacity(meta.len().min(limit) as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > limit {
        return Err(WasmError::TooLarge {
            path: path.to_owned(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
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
