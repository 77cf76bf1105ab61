//! Compiled components on disk, keyed by the component's hash, so a second
//! start (in any process) skips Cranelift.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::WasmError;

/// A directory of `<sha256 of the .wasm>-<engine compatibility>.cwasm` files.
pub(crate) struct CompileCache {
    dir: PathBuf,
    /// Changes whenever compiled code from this engine would not load in
    /// another (wasmtime version, compiler settings, CPU features).
    engine_key: String,
}

impl CompileCache {
    /// Opens (creating it 0700 if missing) the cache directory. Refuses a
    /// directory another user owns or can write: compiled code from it runs
    /// as native code, unchecked, so whoever can write it can run code in
    /// the host.
    ///
    /// A directory that cannot be created (a read-only home, say) only
    /// costs compile time: the engine runs without a cache, with a warning.
    pub fn open(dir: PathBuf, engine: &Engine) -> Result<Option<Self>, WasmError> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        let refuse = |why: String| {
            WasmError::Engine(format!(
                "the compile cache directory `{}` {why}; fix it (`chmod 700`) or choose another with `[runtime] cache_dir` or SINKBOX_CACHE_DIR",
                dir.display()
            ))
        };
        if let Err(err) = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
        {
            tracing::warn!(dir = %dir.display(), "cannot create the compile cache directory ({err}); compiling without a cache");
            return Ok(None);
        }
        let meta =
            std::fs::symlink_metadata(&dir).map_err(|e| refuse(format!("cannot be read: {e}")))?;
        if !meta.is_dir() {
            return Err(refuse(
                "is not a directory (a symlink is refused too)".into(),
            ));
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(refuse(format!(
                "belongs to user {} (sinkbox runs as {me})",
                meta.uid()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(refuse(format!(
                "can be written by other users (mode {:o})",
                meta.mode() & 0o777
            )));
        }
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Some(Self {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        }))
    }

    fn path_for(&self, wasm: &[u8]) -> PathBuf {
        let digest = hex::encode(Sha256::digest(wasm));
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// The cached compilation of `wasm`, if there is a valid one.
    pub fn get(&self, engine: &Engine, wasm: &[u8]) -> Option<Component> {
        let path = self.path_for(wasm);
        // Only a regular file the cache wrote; never follow a planted link.
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
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
            use std::io::Write;
            let bytes = component.serialize()?;
            // A fresh file with an unpredictable name (O_EXCL, mode 0600),
            // renamed over the entry, so a concurrent reader never sees half
            // a file and nobody can plant a link where the cache writes.
            let mut tmp = tempfile::Builder::new()
                .prefix(".tmp-")
                .tempfile_in(&self.dir)?;
            tmp.write_all(&bytes)?;
            tmp.persist(&path)?;
            Ok(())
        })();
        if let Err(err) = result {
            tracing::warn!(dir = %self.dir.display(), "could not write the compile cache: {err:#}");
        }
    }
}
