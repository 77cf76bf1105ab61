//! The batch timer: closes open batches at their timeout and asks every
//! sink to flush every `flush_interval` while records flow.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::handle::Inner;

/// How producers wake the timer: only when it sleeps with no batch to
/// watch, since any batch already open falls due before a new one.
#[derive(Default)]
pub(super) struct TimerWake {
    /// Set by the timer before it looks at the shards; a producer that
    /// opens a batch and finds it set wakes the timer.
    idle: AtomicBool,
    thread: OnceLock<Thread>,
}

impl TimerWake {
    pub fn set_thread(&self, thread: Thread) {
        let _ = self.thread.set(thread);
    }

    /// Called by a producer whose record opened a batch.
    pub fn batch_opened(&self) {
        if self.idle.load(Ordering::Relaxed) && self.idle.swap(false, Ordering::AcqRel) {
            self.unpark();
        }
    }

    /// Wakes the timer so it sees the pipeline closed and returns.
    pub fn stop(&self) {
        self.unpark();
    }

    fn unpark(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// Runs until the pipeline shuts down.
pub(super) fn run(inner: &Inner) {
    let timeout = inner.options.timeout;
    let mut next_flush = Instant::now() + inner.flush_interval;
    let mut flushed_at_batch = 0u64;
    loop {
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        if !inner.flush_interval.is_zero() && Instant::now() >= next_flush {
            inner.close_open_batch(false);
            let dispatched = inner.dispatched.load(Ordering::Relaxed);
            if dispatched != flushed_at_batch {
                flushed_at_batch = dispatched;
                let deadline = Instant::now() + inner.flush_interval;
                for lane in inner.lanes.load().iter() {
                    // Nobody waits on the ticket: a slow flush shows in the
                    // sink's health, and the next interval asks again.
                    drop(lane.request_flush(deadline));
                }
            }
            next_flush = Instant::now() + inner.flush_interval;
        }
        // Idle until a shard shows an open batch; a batch opened after its
        // shard was looked at finds the flag set and wakes this thread.
        inner.timer_wake.idle.store(true, Ordering::SeqCst);
        let now = Instant::now();
        let mut earliest: Option<Instant> = None;
        for shard in inner.open.iter() {
            let open = shard.lock();
            if open.count == 0 {
                continue;
            }
            let due = open.opened_at + timeout;
            if due <= now {
                inner.close_shard(open, false);
            } else {
                earliest = Some(earliest.map_or(due, |e| e.min(due)));
            }
        }
        if earliest.is_some() {
            inner.timer_wake.idle.store(false, Ordering::SeqCst);
        }
        let mut wait = earliest.map_or(timeout, |due| due.saturating_duration_since(now));
        if !inner.flush_interval.is_zero() {
            wait = wait.min(next_flush.saturating_duration_since(Instant::now()));
        }
        // At most 100 ms, as a last guard against a missed wake.
        std::thread::park_timeout(wait.min(Duration::from_millis(100)));
    }
}
