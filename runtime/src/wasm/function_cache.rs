//! Cranelift's per-function compile cache, under the compile cache
//! (`<cache_dir>/functions/`): a rebuilt component that shares most of
//! its functions with one compiled before (a Python or JavaScript sink
//! after a one-line change: the interpreter did not change) compiles only
//! what changed.

use std::borrow::Cow;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// The store wasmtime asks for compiled functions by key.
#[derive(Debug)]
pub(crate) struct FunctionCache {
    dir: PathBuf,
}

/// The directory under a compile cache that holds function entries.
pub(crate) const FUNCTIONS_DIR: &str = "functions";

impl FunctionCache {
    /// A store in `<cache_dir>/functions/` (created on first insert).
    /// `cache_dir` has passed the compile cache's ownership checks.
    pub fn new(cache_dir: &std::path::Path) -> Self {
        Self {
            dir: cache_dir.join(FUNCTIONS_DIR),
        }
    }

    fn path(&self, key: &[u8]) -> PathBuf {
        let digest = hex::encode(Sha256::digest(key));
        self.dir.join(&digest[..2]).join(digest)
    }
}

impl wasmtime::CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let path = self.path(key);
        // Only a regular file the cache wrote; never follow a planted link.
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            return None;
        }
        std::fs::read(path).ok().map(Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        use std::io::Write;
        let path = self.path(key);
        let Some(parent) = path.parent() else {
            return false;
        };
        let written = (|| -> std::io::Result<()> {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)?;
            // As for whole components: a fresh file renamed into place, so
            // a reader never sees half an entry.
            let mut tmp = tempfile::Builder::new()
                .prefix(".tmp-")
                .tempfile_in(parent)?;
            tmp.write_all(&value)?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        })();
        written.is_ok()
    }
}
