//! How a running wasm sink is replaced by a new module: same name, limits,
//! grant and config; new component.

use std::path::{Path, PathBuf};

use super::engine::WasmEngine;
use super::sink_reloader::SinkReloader;
use super::wasm_sink::{WasmSink, WasmSinkOptions};
use crate::sink::Sink;

pub(crate) struct WasmReloader {
    pub name: String,
    pub engine: WasmEngine,
    pub options: WasmSinkOptions,
    pub path: PathBuf,
    pub hash: String,
}

impl SinkReloader for WasmReloader {
    fn module_path(&self) -> &Path {
        &self.path
    }

    fn module_hash(&self) -> &str {
        &self.hash
    }

    fn read_module(&self, path: &Path) -> Result<Vec<u8>, String> {
        self.engine.read_component(path).map_err(|e| e.to_string())
    }

    fn prepare(&self, origin: &Path, bytes: &[u8]) -> Result<Box<dyn Sink>, String> {
        let component = self
            .engine
            .load_bytes(origin, bytes)
            .map_err(|e| e.to_string())?;
        let mut sink = WasmSink::new(&self.name, component, self.options.clone());
        sink.start()
            .map_err(|e| format!("the new instance failed to start: {e}"))?;
        Ok(Box::new(sink))
    }
}

impl WasmSink {
    /// How to replace this sink with a new module while it runs (hot
    /// reload): same name, limits, grant and config.
    pub fn reloader(&self) -> std::sync::Arc<dyn SinkReloader> {
        std::sync::Arc::new(WasmReloader {
            name: self.name().to_owned(),
            engine: self.component().wasm_engine().clone(),
            options: self.options().clone(),
            path: self.component().path().to_owned(),
            hash: self.component().module_hash().to_owned(),
        })
    }
}
