//! Prepares the pages ahead of an `MmapWriter` so its copies never stop for
//! page faults one 4 KiB page at a time.
//!
//! Both the helper thread and the writer use `madvise(MADV_POPULATE_WRITE)`
//! (Linux 5.14+), which prepares pages as a write would without changing
//! their contents. On this kernel and ext4, preparing a few MiB in one call
//! costs a small fraction of taking the same faults page by page from user
//! space (see `docs/benchmarks.md`), so the writer never copies into pages
//! that are not prepared: the helper works ahead, and when the writer
//! catches up with it the writer prepares the next chunk itself. A stale
//! request is harmless: on a range no longer mapped the call fails, and it
//! never alters data.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// How far ahead of the writer the helper prepares pages.
pub(crate) const AHEAD: usize = 64 << 20;
/// Bytes prepared per system call.
pub(crate) const CHUNK: usize = 8 << 20;

#[derive(Clone, Copy, Default)]
struct Request {
    /// Address of the mapping; a new value starts a new round.
    base: usize,
    /// Offset to start from within the mapping.
    from: usize,
    /// Offset to prepare up to (exclusive).
    until: usize,
    stop: bool,
}

#[derive(Default)]
struct Progress {
    /// The mapping the helper works on.
    base: usize,
    /// Prepared from the writer's first request up to here.
    done: usize,
}

struct State {
    request: Mutex<Request>,
    wake: Condvar,
    progress: Mutex<Progress>,
}

pub(crate) struct Prefaulter {
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

/// Prepares `[from, until)` of the mapping at `base`; `false` if the kernel
/// cannot (too old) or the range is not mapped.
pub(crate) fn populate(base: *const u8, from: usize, until: usize) -> bool {
    if !cfg!(target_os = "linux") || until <= from {
        return until <= from;
    }
    // SAFETY: MADV_POPULATE_WRITE only prepares page tables and never
    // changes memory contents; on a range that is not mapped it fails with
    // ENOMEM.
    let result = unsafe {
        libc::madvise(
            (base as usize + from) as *mut libc::c_void,
            until - from,
            libc::MADV_POPULATE_WRITE,
        )
    };
    result == 0
}

impl Prefaulter {
    /// Starts the helper thread; `None` where it cannot run.
    pub fn start() -> Option<Self> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let state = Arc::new(State {
            request: Mutex::new(Request::default()),
            wake: Condvar::new(),
            progress: Mutex::new(Progress::default()),
        });
        let worker = state.clone();
        let thread = std::thread::Builder::new()
            .name("sinkbox-mmap-prefault".into())
            .spawn(move || run(&worker))
            .ok()?;
        Some(Self {
            state,
            thread: Some(thread),
        })
    }

    /// Asks for `[from, until)` of the mapping at `base` to be prepared.
    pub fn request(&self, base: *const u8, from: usize, until: usize) {
        let mut request = self.state.request.lock().unwrap();
        request.base = base as usize;
        request.from = from;
        request.until = until;
        drop(request);
        self.state.wake.notify_one();
    }

    /// How far the helper has prepared the mapping at `base` (0 if it works
    /// on another one).
    pub fn done(&self, base: *const u8) -> usize {
        let progress = self.state.progress.lock().unwrap();
        if progress.base == base as usize {
            progress.done
        } else {
            0
        }
    }
}

impl Drop for Prefaulter {
    fn drop(&mut self) {
        self.state.request.lock().unwrap().stop = true;
        self.state.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(state: &State) {
    let (mut base, mut done) = (0usize, 0usize);
    loop {
        let request = {
            let guard = state.request.lock().unwrap();
            let guard = state
                .wake
                .wait_while(guard, |r| !r.stop && r.base == base && done >= r.until)
                .unwrap();
            *guard
        };
        if request.stop {
            return;
        }
        if request.base != base {
            base = request.base;
            done = request.from;
        }
        // The writer may have prepared pages past ours itself.
        done = done.max(request.from);
        let end = request.until.min(done + CHUNK);
        if end <= done {
            continue;
        }
        if !populate(base as *const u8, done, end) {
            let errno = std::io::Error::last_os_error().raw_os_error();
            if matches!(errno, Some(libc::EINVAL) | Some(libc::ENOSYS)) {
                return; // Kernel too old: the writer faults pages itself.
            }
            // The mapping moved (grow): wait for the next request.
            done = request.until;
            continue;
        }
        done = end;
        *state.progress.lock().unwrap() = Progress { base, done };
    }
}
