//! Faults in the pages just ahead of an `MmapWriter` on a helper thread, so
//! the writer's copies do not each stop for a page fault (and the file
//! system's block reservation) on first touch.
//!
//! It uses `madvise(MADV_POPULATE_WRITE)` (Linux 5.14+), which prepares
//! pages as a write would without changing their contents. That makes a
//! stale request harmless: if the writer has since remapped, the call fails
//! or prefaults someone else's pages, and never alters data.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// How far ahead of the writer pages are prepared.
pub(crate) const AHEAD: usize = 32 << 20;
/// Bytes prepared per system call.
const CHUNK: usize = 2 << 20;

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

struct State {
    request: Mutex<Request>,
    wake: Condvar,
}

pub(crate) struct Prefaulter {
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
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
        done = done.max(request.from);
        let end = request.until.min(done + CHUNK);
        if end <= done {
            continue;
        }
        // SAFETY: MADV_POPULATE_WRITE only prepares page tables and never
        // changes memory contents; on a range that is no longer mapped it
        // fails with ENOMEM, which is ignored.
        let result = unsafe {
            libc::madvise(
                (base + done) as *mut libc::c_void,
                end - done,
                libc::MADV_POPULATE_WRITE,
            )
        };
        if result != 0 {
            let errno = std::io::Error::last_os_error().raw_os_error();
            if matches!(errno, Some(libc::EINVAL) | Some(libc::ENOSYS)) {
                return; // Kernel too old: the writer faults pages itself.
            }
            // The mapping moved (grow): wait for the next request.
            done = request.until;
            continue;
        }
        done = end;
    }
}
