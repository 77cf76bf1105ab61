//! Completion tickets for flush requests sent through the sink queues.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// Put in a sink's queue behind everything emitted before a flush; the worker
/// completes it once the sink has flushed.
pub(crate) struct FlushTicket {
    state: Mutex<Option<Result<(), String>>>,
    done: Condvar,
    /// When the caller stops waiting; the worker stops retrying then too.
    pub deadline: Instant,
}

impl FlushTicket {
    pub fn new(deadline: Instant) -> Self {
        Self {
            state: Mutex::new(None),
            done: Condvar::new(),
            deadline,
        }
    }

    pub fn complete(&self, result: Result<(), String>) {
        *self.state.lock().unwrap() = Some(result);
        self.done.notify_all();
    }

    /// Waits until completed or `deadline`; `None` if the deadline passed.
    pub fn wait_until(&self, deadline: Instant) -> Option<Result<(), String>> {
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(result) = state.as_ref() {
                return Some(result.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            state = self.done.wait_timeout(state, deadline - now).unwrap().0;
        }
    }
}
