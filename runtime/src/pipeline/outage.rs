//! A sink's outage: when it started failing, and when to say so. The
//! worker feeds it every answer; it decides how long the sink has been
//! down (for the retry window) and which lines the operator sees: one when
//! the outage starts, one every [`REPORT_EVERY`] while it lasts, one when
//! it ends. Kept apart from I/O so the rate can be tested with a clock.

use std::time::{Duration, Instant};

/// How often a continuing outage is reported.
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(10);

/// What the operator should be told after an answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OutageNews {
    /// The sink just started failing.
    Started,
    /// Still failing, this long so far.
    Continues(Duration),
    /// Delivering again after an outage this long.
    Ended(Duration),
}

/// One sink's outage clock.
#[derive(Debug, Default)]
pub(crate) struct Outage {
    /// The first failure since the last success.
    since: Option<Instant>,
    /// The latest failure.
    last_failure: Option<Instant>,
    last_report: Option<Instant>,
}

impl Outage {
    /// The sink failed at `now` (a transient failure: retryable, or not
    /// sent because its circuit breaker is open). A failure more than
    /// `idle_after` after the one before starts a new outage: time with
    /// nothing to send is not time failing.
    pub fn failed(&mut self, now: Instant, idle_after: Duration) -> Option<OutageNews> {
        let idle = self
            .last_failure
            .is_some_and(|last| now.saturating_duration_since(last) > idle_after);
        self.last_failure = Some(now);
        match self.since {
            Some(_) if idle => {
                self.since = Some(now);
                self.last_report = Some(now);
                Some(OutageNews::Started)
            }
            None => {
                self.since = Some(now);
                self.last_report = Some(now);
                Some(OutageNews::Started)
            }
            Some(since) => {
                let due = self
                    .last_report
                    .is_none_or(|at| now.saturating_duration_since(at) >= REPORT_EVERY);
                due.then(|| {
                    self.last_report = Some(now);
                    OutageNews::Continues(now.saturating_duration_since(since))
                })
            }
        }
    }

    /// The sink delivered (or the destination answered about the records
    /// themselves) at `now`.
    pub fn succeeded(&mut self, now: Instant) -> Option<OutageNews> {
        let since = self.since.take()?;
        self.last_report = None;
        self.last_failure = None;
        Some(OutageNews::Ended(now.saturating_duration_since(since)))
    }

    /// How long the sink has been failing at `now`; zero when it is not.
    pub fn length(&self, now: Instant) -> Duration {
        self.since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GAP: Duration = Duration::from_secs(30);

    #[test]
    fn an_outage_is_reported_when_it_starts_every_interval_and_when_it_ends() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut outage = Outage::default();
        assert_eq!(outage.succeeded(at(0)), None, "no outage, nothing to say");
        assert_eq!(outage.failed(at(0), GAP), Some(OutageNews::Started));
        // A failure every 100 ms for 25 s: two more lines, not 250.
        let reports: Vec<_> = (1..250)
            .filter_map(|i| outage.failed(at(i * 100), GAP))
            .collect();
        assert_eq!(
            reports,
            vec![
                OutageNews::Continues(Duration::from_secs(10)),
                OutageNews::Continues(Duration::from_secs(20)),
            ]
        );
        assert_eq!(outage.length(at(25_000)), Duration::from_secs(25));
        assert_eq!(
            outage.succeeded(at(25_000)),
            Some(OutageNews::Ended(Duration::from_secs(25)))
        );
        assert_eq!(outage.length(at(26_000)), Duration::ZERO);
        assert_eq!(outage.succeeded(at(26_000)), None);
        assert_eq!(outage.failed(at(27_000), GAP), Some(OutageNews::Started));
        // Nothing to send for a minute, then a failure: a new outage, not
        // one a minute long.
        assert_eq!(outage.failed(at(87_001), GAP), Some(OutageNews::Started));
        assert_eq!(outage.length(at(87_001)), Duration::ZERO);
    }
}
