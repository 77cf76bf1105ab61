//! How a running sink is replaced by a new module (hot reload).

use std::path::Path;

use crate::sink::Sink;

/// Makes a started replacement for a running sink from new module bytes.
/// A wasm sink hands out one ([`WasmSink::reloader`]); the pipeline keeps
/// it beside the running sink and swaps both at a batch boundary.
pub trait SinkReloader: Send + Sync {
    /// The module file the sink was loaded from.
    fn module_path(&self) -> &Path;

    /// The SHA-256 (hex) of the running module.
    fn module_hash(&self) -> &str;

    /// Reads a new module file, refusing what is not a regular file or is
    /// too large, before reading it.
    fn read_module(&self, path: &Path) -> Result<Vec<u8>, String>;

    /// Compiles `bytes` (through the compile cache), checks the contract,
    /// instantiates under the sink's limits and calls `start`. `origin`
    /// names the bytes in errors.
    fn prepare(&self, origin: &Path, bytes: &[u8]) -> Result<Box<dyn Sink>, String>;
}
