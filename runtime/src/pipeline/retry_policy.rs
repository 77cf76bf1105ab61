//! How often and how fast a sink's failed batches are retried, and how
//! long a sink may go on failing before its batches are dead-lettered.

use std::time::Duration;

use crate::backoff::Backoff;

/// How long an unbuffered sink may fail without delivering anything
/// before its failing batches go to dead letters: five minutes, as the
/// OpenTelemetry Collector's `max_elapsed_time`. Long enough for a
/// receiver's restart or a deploy; short enough that a sink that will not
/// recover holds the producers up (with `overflow = "block"`) for minutes,
/// not forever.
pub const DEFAULT_MAX_RETRY_DURATION: Duration = Duration::from_secs(300);

/// Retry and restart limits of one sink, shared by native and wasm sinks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of one batch (sends after its first) answered `retryable`
    /// or `partial` before it is dead-lettered. `None`, the default: no
    /// count; [`RetryPolicy::max_retry_duration`] decides.
    pub max_retries: Option<u32>,
    /// How long the sink may fail without delivering anything (an
    /// outage, measured from its first failure after a success) before a
    /// batch that fails is dead-lettered instead of retried. `None`, the
    /// default: [`DEFAULT_MAX_RETRY_DURATION`] without a disk buffer, and
    /// no limit with one (the buffer's `max_size` and `when_full` decide).
    pub max_retry_duration: Option<Duration>,
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
            max_retries: None,
            max_retry_duration: None,
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

    /// How long an outage may last before failing batches are
    /// dead-lettered, for a sink with or without a disk buffer; `None`:
    /// as long as it takes.
    pub fn retry_window(&self, disk_buffered: bool) -> Option<Duration> {
        match (self.max_retry_duration, disk_buffered) {
            (Some(set), _) => Some(set),
            (None, true) => None,
            (None, false) => Some(DEFAULT_MAX_RETRY_DURATION),
        }
    }

    /// Whether a batch that has now been retried `retries` times, in an
    /// outage `outage` long, is given up on (and why).
    pub(crate) fn give_up(
        &self,
        retries: u32,
        outage: Duration,
        disk_buffered: bool,
    ) -> Option<String> {
        if let Some(max) = self.max_retries
            && retries > max
        {
            return Some(format!("still failing after {max} retries"));
        }
        match self.retry_window(disk_buffered) {
            Some(window) if outage >= window => Some(format!(
                "the sink has delivered nothing for {} (max_retry_duration {})",
                humantime::format_duration(round_to_ms(outage)),
                humantime::format_duration(window)
            )),
            _ => None,
        }
    }
}

fn round_to_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_bounded_by_time_and_optionally_by_count() {
        let default = RetryPolicy::default();
        let minute = Duration::from_secs(60);
        // The defaults: no count, five minutes without a buffer, no end
        // with one.
        assert_eq!(default.give_up(1_000, minute, false), None);
        assert!(
            default
                .give_up(1, DEFAULT_MAX_RETRY_DURATION, false)
                .unwrap()
                .contains("delivered nothing for 5m")
        );
        assert_eq!(default.give_up(1_000_000, 100 * minute, true), None);
        // Set: both apply to both kinds of lane.
        let set = RetryPolicy {
            max_retries: Some(5),
            max_retry_duration: Some(minute),
            ..Default::default()
        };
        assert_eq!(set.give_up(5, Duration::ZERO, true), None);
        assert!(
            set.give_up(6, Duration::ZERO, true)
                .unwrap()
                .contains("after 5 retries")
        );
        assert!(set.give_up(1, minute, true).is_some());
    }
}
