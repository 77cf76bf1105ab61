//! `Pipeline::reload_sink`: swap a running wasm sink's module.

use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{ModuleSource, ReloadError, ReloadReport};
use crate::pipeline::Pipeline;

impl Pipeline {
    /// Replaces the module of the wasm sink `name` without losing or
    /// repeating a record.
    ///
    /// The new module is compiled (through the compile cache), checked
    /// against the contract, instantiated under the sink's limits and
    /// started on the calling thread while the old instance keeps working.
    /// Only then does the sink's worker swap it in, at a batch boundary:
    /// the old instance finishes its batch, is flushed and stopped, and the
    /// queued and later batches go to the new one. `emit` never waits for
    /// any of this. If anything fails the old instance keeps running, the
    /// sink's `reload_failures` counter and `last_reload_error` say why,
    /// and the error is returned. Reloading the module already running
    /// does nothing (`unchanged`).
    pub fn reload_sink(
        &self,
        name: &str,
        source: ModuleSource,
    ) -> Result<ReloadReport, ReloadError> {
        if self.is_closed() {
            return Err(ReloadError::ShutDown);
        }
        let lanes = self.lanes();
        let lane = lanes
            .iter()
            .find(|lane| lane.name() == name)
            .ok_or_else(|| ReloadError::NoSuchSink(name.to_owned()))?;
        let _turn = lane.reload_turn();
        let reloader = lane
            .reloader()
            .ok_or_else(|| ReloadError::NotReloadable(name.to_owned()))?;
        let refused = |message: String| {
            lane.reload_refused(&message);
            tracing::warn!(sink = %name, "reload refused; the running module stays: {message}");
            ReloadError::Refused {
                sink: name.to_owned(),
                message,
            }
        };
        let (origin, bytes) = match source {
            ModuleSource::Path(path) => match reloader.read_module(&path) {
                Ok(bytes) => (path, bytes),
                Err(err) => return Err(refused(err)),
            },
            ModuleSource::Bytes(bytes) => (reloader.module_path().to_owned(), bytes),
        };
        let hash = hex::encode(Sha256::digest(&bytes));
        if hash == reloader.module_hash() {
            return Ok(ReloadReport {
                sink: name.to_owned(),
                module_hash: hash,
                unchanged: true,
                prepare: Default::default(),
                pause: Default::default(),
            });
        }
        let started = Instant::now();
        let sink = reloader.prepare(&origin, &bytes).map_err(refused)?;
        let prepare = started.elapsed();
        let pause = lane
            .swap(sink, None, Some(hash.clone()), true)
            .map_err(refused)?;
        tracing::info!(sink = %name, module = %&hash[..12], ?prepare, ?pause, "reloaded");
        Ok(ReloadReport {
            sink: name.to_owned(),
            module_hash: hash,
            unchanged: false,
            prepare,
            pause,
        })
    }
}

impl Pipeline {
    /// Every top-level sink whose module can be reloaded, with the file its
    /// running module came from.
    pub fn module_paths(&self) -> Vec<(String, std::path::PathBuf)> {
        self.lanes()
            .iter()
            .filter_map(|lane| {
                lane.reloader()
                    .map(|r| (lane.name().to_owned(), r.module_path().to_owned()))
            })
            .collect()
    }
}
