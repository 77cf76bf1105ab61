//! Compiled components on disk, keyed by the component's hash, so a second
//! start (in any process) skips Cranelift.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

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
    /// Past this many bytes of entries, the least recently used go.
    max_size: AtomicU64,
}

/// Creates `dir` (0700) if missing and checks that only this user can
/// write it: compiled code from it runs as native code, unchecked, so
/// whoever can write it can run code in the host. `Ok(false)`: it cannot
/// be created (a read-only home), which only costs compile time.
pub(crate) fn usable_dir(dir: &Path) -> Result<bool, WasmError> {
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
        .create(dir)
    {
        tracing::warn!(dir = %dir.display(), "cannot create the compile cache directory ({err}); compiling without a cache");
        return Ok(false);
    }
    let meta =
        std::fs::symlink_metadata(dir).map_err(|e| refuse(format!("cannot be read: {e}")))?;
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
    Ok(true)
}

/// Default of `[runtime] cache_max_size`: room for dozens of Python or
/// JavaScript sinks (15–20 MB compiled) and their older builds.
pub const DEFAULT_CACHE_MAX_SIZE: u64 = 1 << 30;

/// One compiled component in a cache directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    /// The entry's file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// When it was last written or loaded.
    pub last_used: SystemTime,
}

/// Where `--fast-start` (Winch) keeps its compiled components, under the
/// cache directory.
pub(crate) const FAST_START_DIR: &str = "winch";

/// The entries of the cache in `dir`, least recently used first: whole
/// components (`*.cwasm`), Winch's builds of them (under `winch/`,
/// [`CacheEntry::is_fast_start`]) and Cranelift's function entries (under
/// `functions/`, [`CacheEntry::is_function`]).
pub fn cache_entries(dir: &Path) -> std::io::Result<Vec<CacheEntry>> {
    let mut entries = Vec::new();
    let mut add = |path: PathBuf, want: &dyn Fn(&Path) -> bool| -> std::io::Result<()> {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_file() && want(&path) {
            entries.push(CacheEntry {
                path,
                bytes: meta.len(),
                last_used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
        Ok(())
    };
    for entry in std::fs::read_dir(dir)? {
        add(entry?.path(), &|p| {
            p.extension().is_some_and(|e| e == "cwasm")
        })?;
    }
    if let Ok(fast_start) = std::fs::read_dir(dir.join(FAST_START_DIR)) {
        for entry in fast_start.flatten() {
            add(entry.path(), &|p| {
                p.extension().is_some_and(|e| e == "cwasm")
            })?;
        }
    }
    let functions = dir.join(super::function_cache::FUNCTIONS_DIR);
    if let Ok(shards) = std::fs::read_dir(&functions) {
        for shard in shards.flatten() {
            if !shard.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            for entry in std::fs::read_dir(shard.path())?.flatten() {
                add(entry.path(), &|p| {
                    p.file_name()
                        .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
                })?;
            }
        }
    }
    entries.sort_by_key(|e| e.last_used);
    Ok(entries)
}

impl CacheEntry {
    /// Whether this is one compiled function rather than a component.
    pub fn is_function(&self) -> bool {
        self.path.extension().is_none_or(|e| e != "cwasm")
    }

    /// Whether this is a component compiled by Winch for `--fast-start`.
    pub fn is_fast_start(&self) -> bool {
        !self.is_function()
            && self
                .path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == FAST_START_DIR)
    }
}

/// Deletes the least recently used entries of the cache in `dir` until
/// the rest take at most `max_bytes`, never `keep`; returns what went.
pub fn prune_cache(
    dir: &Path,
    max_bytes: u64,
    keep: Option<&Path>,
) -> std::io::Result<Vec<CacheEntry>> {
    let entries = cache_entries(dir)?;
    let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
    let mut removed = Vec::new();
    for entry in entries {
        if total <= max_bytes {
            break;
        }
        if Some(entry.path.as_path()) == keep {
            continue;
        }
        std::fs::remove_file(&entry.path)?;
        total -= entry.bytes;
        removed.push(entry);
    }
    // Leftovers of writes cut short by a crash.
    for entry in std::fs::read_dir(dir)?.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with(".tmp-")
            && entry.metadata().and_then(|m| m.modified()).is_ok_and(|at| {
                at.elapsed().unwrap_or_default() > std::time::Duration::from_secs(3600)
            });
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(removed)
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
        if !usable_dir(&dir)? {
            return Ok(None);
        }
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Some(Self {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            max_size: AtomicU64::new(DEFAULT_CACHE_MAX_SIZE),
        }))
    }

    /// Sets the size past which the least recently used entries go.
    pub fn set_max_size(&self, bytes: u64) {
        self.max_size.store(bytes, Ordering::Relaxed);
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
            Ok(component) => {
                // Used now: the last to go when the cache is pruned.
                if let Ok(file) = std::fs::File::options().append(true).open(&path) {
                    let _ = file.set_modified(SystemTime::now());
                }
                Some(component)
            }
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
            let removed = prune_cache(
                &self.dir,
                self.max_size.load(Ordering::Relaxed),
                Some(&path),
            )?;
            if !removed.is_empty() {
                tracing::info!(
                    dir = %self.dir.display(),
                    "compile cache: removed {} least recently used entries ({} bytes) to stay under cache_max_size",
                    removed.len(),
                    removed.iter().map(|e| e.bytes).sum::<u64>()
                );
            }
            Ok(())
        })();
        if let Err(err) = result {
            tracing::warn!(dir = %self.dir.display(), "could not write the compile cache: {err:#}");
        }
    }
}
