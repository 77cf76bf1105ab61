//! How often and how fast a sink's failed batches are retried.

use std::time::Duration;

use crate::backoff::Backoff;

/// Retry and restart limits of one sink, shared by native and wasm sinks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of one batch after `retryable` or `partial` before it is
    /// dead-lettered.
    pub max_retries: u32,
    /// Back-off before the first retry; doubled each time.
    pub initial_backoff: Duration,
    /// Upper bound of the back-off.
    pub max_backoff: Duration,
    /// Restarts of the sink for one batch (after `fatal`, a trap, a deadline
    /// or memory-limit hit) before that batch is dead-lettered.
    pub max_restarts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_restarts: 3,
        }
    }
}

impl RetryPolicy {
    /// The back-off before retry number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        Backoff::new(self.initial_backoff, self.max_backoff).delay(attempt)
    }
}
