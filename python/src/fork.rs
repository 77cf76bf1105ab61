//! Which process generation this is: a counter raised in the child of
//! every `fork()`, so a pipeline can tell in one atomic load (no `getpid`
//! system call per record) that it runs in a process forked after it was
//! made, where none of its threads exist.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTERED: OnceLock<i32> = OnceLock::new();

extern "C" fn in_child() {
    // Runs in the child, with one thread, before `fork()` returns there.
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Starts counting forks; called when the module is imported.
pub fn watch() -> std::io::Result<()> {
    // SAFETY: registers a handler that only touches an atomic, which is
    // async-signal-safe as a fork handler must be.
    let code =
        *REGISTERED.get_or_init(|| unsafe { libc::pthread_atfork(None, None, Some(in_child)) });
    if code == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(code))
    }
}

/// This process's generation: 0 in the process that imported the module,
/// one more in each forked child.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}
