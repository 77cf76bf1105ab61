//! Compiled components on disk, keyed by the component's hash, so a second
//! start (in any process) skips Cranelift.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of `<sha256 of the .wasm>-<engine compatibility>.cwasm` files.
pub(crate) struct CompileCache {
    dir: PathBuf,
    /// Changes whenever compiled code from this engine would not load in
    /// another (wasmtime version, compiler settings, CPU features).
    engine_key: String,
}

impl CompileCache {
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    fn path_for(&self, wasm: &[u8]) -> PathBuf {
        let digest = hex::encode(Sha256::digest(wasm));
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// The cached compilation of `wasm`, if there is a valid one.
    pub fn get(&self, engine: &Engine, wasm: &[u8]) -> Option<Component> {
        let path = self.path_for(wasm);
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `put` below from `Component::serialize`
        // of this same engine configuration (the engine key is in its name), and
        // wasmtime checks its header and version before using it.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(err) => {
                tracing::warn!(path = %path.display(), "ignoring unusable compile cache entry: {err}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores a compilation. Failures only cost a recompile next time, so
    /// they are logged, not returned.
    pub fn put(&self, wasm: &[u8], component: &Component) {
        let path = self.path_for(wasm);
        let result = (|| -> anyhow::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let bytes = component.serialize()?;
            // Write then rename, so a concurrent reader never sees half a file.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)?;
            Ok(())
        })();
        if let Err(err) = result {
            tracing::warn!(dir = %self.dir.display(), "could not write the compile cache: {err:#}");
        }
    }
}
