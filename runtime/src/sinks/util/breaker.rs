//! A circuit breaker: after `threshold` consecutive failures the sink stops
//! sending for `cool_down`, then lets one probe request through (half-open);
//! a success closes it, a failure opens it again.

use std::time::{Duration, Instant};

/// What the breaker is doing, for health and stats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests are refused until the cool-down ends.
    Open,
    /// The cool-down ended: the next request is a probe.
    HalfOpen,
}

impl std::fmt::Display for BreakerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        })
    }
}

/// One sink's breaker. `threshold` 0 turns it off.
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    threshold: u32,
    cool_down: Duration,
    failures: u32,
    open_until: Option<Instant>,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold,
            cool_down,
            failures: 0,
            open_until: None,
        }
    }

    /// The state now.
    pub fn state(&self) -> BreakerState {
        match self.open_until {
            None => BreakerState::Closed,
            Some(until) if Instant::now() < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// Whether a request may be sent now; if not, how long until it may.
    pub fn allow(&self) -> Result<(), Duration> {
        match self.open_until {
            Some(until) if Instant::now() < until => Err(until - Instant::now()),
            _ => Ok(()),
        }
    }

    /// The server answered in a way that says it works (2xx, or a 4xx that
    /// is about the request, not the server).
    pub fn success(&mut self) {
        self.failures = 0;
        self.open_until = None;
    }

    /// The server failed (connection error, timeout, 5xx, 429).
    pub fn failure(&mut self) {
        self.failures = self.failures.saturating_add(1);
        let probe_failed = self.open_until.is_some();
        if self.threshold > 0 && (probe_failed || self.failures >= self.threshold) {
            self.open_until = Some(Instant::now() + self.cool_down);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_closes_after_a_good_probe() {
        let mut breaker = CircuitBreaker::new(3, Duration::from_millis(30));
        breaker.failure();
        breaker.failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(breaker.allow().is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.allow().is_ok());
        breaker.failure();
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "a failed probe opens it again"
        );
        std::thread::sleep(Duration::from_millis(40));
        breaker.success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        let mut off = CircuitBreaker::new(0, Duration::from_secs(1));
        for _ in 0..100 {
            off.failure();
        }
        assert_eq!(off.state(), BreakerState::Closed);
    }
}
