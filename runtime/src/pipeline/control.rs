//! Completion tickets for flush requests sent through the sink queues.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::SinkSettings;
use crate::sink::Sink;

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

/// A started replacement for a sink, swapped in by its worker at the next
/// batch boundary.
pub(crate) struct SwapRequest {
    pub sink: Box<dyn Sink>,
    /// New lane settings (retries, dead-letter cap, fault policy), for a
    /// configuration reload.
    pub settings: Option<SinkSettings>,
    /// The new module's hash, for the sink's stats.
    pub hash: Option<String>,
    /// Whether a fault on the first batches swaps the old sink back (a
    /// module reload).
    pub rollback: bool,
    pub done: Arc<SwapTicket>,
}

/// Completed by the worker with how long the swap paused the sink.
#[derive(Default)]
pub(crate) struct SwapTicket {
    state: Mutex<Option<Duration>>,
    done: Condvar,
}

impl SwapTicket {
    pub fn complete(&self, pause: Duration) {
        *self.state.lock().unwrap() = Some(pause);
        self.done.notify_all();
    }

    /// Waits up to `timeout`; `None` if the swap has not happened by then.
    pub fn wait(&self, timeout: Duration) -> Option<Duration> {
        let state = self.state.lock().unwrap();
        let (state, _) = self
            .done
            .wait_timeout_while(state, timeout, |s| s.is_none())
            .unwrap();
        *state
    }
}
