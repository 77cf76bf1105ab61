//! How much a sink may log: one token bucket per sink, shared by its
//! `host.log` lines, stdout and stderr, and kept across restarts and reloads
//! so a guest that spends it and then crashes does not get a fresh one.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What every guest line costs on top of its text, so empty lines are not
/// free: about what the host's own log prefix (time, level, sink) adds.
pub const LINE_OVERHEAD_BYTES: u64 = 128;

/// Default sustained rate of guest diagnostics, in bytes per second.
pub const DEFAULT_LOG_RATE: u64 = 64 * 1024;

/// Default burst of guest diagnostics, in bytes.
pub const DEFAULT_LOG_BURST: u64 = 256 * 1024;

/// How often dropped lines are summarised in the host's log.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// A sink's diagnostics budget: `rate` bytes per second, up to `burst` bytes
/// saved up. Cheap to share (`Arc`) between the instances of one sink.
#[derive(Debug)]
pub struct GuestLogBudget {
    rate: u64,
    burst: u64,
    state: Mutex<BucketState>,
    dropped: AtomicU64,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    refilled: Instant,
    dropped_since_report: u64,
    reported: Option<Instant>,
}

/// What the budget says about one line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Spend {
    /// Log it.
    Keep,
    /// Drop it.
    Drop,
    /// Drop it, and tell the operator that this many lines were dropped
    /// since the last such note.
    DropAndReport(u64),
}

impl Default for GuestLogBudget {
    fn default() -> Self {
        Self::new(DEFAULT_LOG_RATE, DEFAULT_LOG_BURST)
    }
}

impl GuestLogBudget {
    /// A full bucket of `burst` bytes refilled at `rate` bytes per second.
    pub fn new(rate: u64, burst: u64) -> Self {
        Self {
            rate,
            burst,
            state: Mutex::new(BucketState {
                tokens: burst as f64,
                refilled: Instant::now(),
                dropped_since_report: 0,
                reported: None,
            }),
            dropped: AtomicU64::new(0),
        }
    }

    /// Bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Bytes that may be spent at once.
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// Guest lines dropped over the budget so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Spends what a line of `text_bytes` costs, if the bucket holds it.
    pub(crate) fn spend(&self, text_bytes: usize) -> Spend {
        let cost = text_bytes as u64 + LINE_OVERHEAD_BYTES;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(state.refilled).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate as f64).min(self.burst as f64);
        state.refilled = now;
        if state.tokens >= cost as f64 {
            state.tokens -= cost as f64;
            return Spend::Keep;
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        state.dropped_since_report += 1;
        let due = state
            .reported
            .is_none_or(|at| now.duration_since(at) >= REPORT_EVERY);
        if due {
            state.reported = Some(now);
            Spend::DropAndReport(std::mem::take(&mut state.dropped_since_report))
        } else {
            Spend::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_lines_cost_the_overhead_and_drops_are_reported_once_in_a_while() {
        let budget = GuestLogBudget::new(0, 10 * LINE_OVERHEAD_BYTES);
        for _ in 0..10 {
            assert_eq!(budget.spend(0), Spend::Keep);
        }
        assert_eq!(budget.spend(0), Spend::DropAndReport(1));
        for _ in 0..1000 {
            assert_eq!(budget.spend(0), Spend::Drop);
        }
        assert_eq!(budget.dropped(), 1001);
    }

    #[test]
    fn a_line_larger_than_the_burst_is_dropped() {
        let budget = GuestLogBudget::new(1 << 20, 1024);
        assert_ne!(budget.spend(4096), Spend::Keep);
        assert_eq!(budget.spend(10), Spend::Keep);
    }
}
