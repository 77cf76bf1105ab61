//! What an HTTP source has done: counters bumped as requests are
//! answered, read as one snapshot for the run summary, `stats()` and
//! `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a source has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceStats {
    /// Requests received on the records path.
    pub requests: u64,
    /// Records taken into the pipeline.
    pub records: u64,
    /// Body bytes taken, as received.
    pub bytes: u64,
    /// Requests answered 200.
    pub accepted: u64,
    /// Requests refused for bad input (400, 408, 413, 415).
    pub bad_requests: u64,
    /// Requests refused for missing or wrong credentials (401).
    pub unauthorized: u64,
    /// Requests answered 503: the pipeline did not take or settle their
    /// records in time, or lost some.
    pub unavailable: u64,
    /// Acknowledged requests answered 200, and the sum of their waits from
    /// the records being queued to all of them settled, in microseconds:
    /// `ack_wait_us / acknowledged` is the mean acknowledgement latency.
    pub acknowledged: u64,
    /// See [`Self::acknowledged`].
    pub ack_wait_us: u64,
}

impl std::ops::Add for SourceStats {
    type Output = SourceStats;

    /// The counts of two runs of one source (before and after a restart),
    /// together.
    fn add(self, other: SourceStats) -> SourceStats {
        SourceStats {
            requests: self.requests.saturating_add(other.requests),
            records: self.records.saturating_add(other.records),
            bytes: self.bytes.saturating_add(other.bytes),
            accepted: self.accepted.saturating_add(other.accepted),
            bad_requests: self.bad_requests.saturating_add(other.bad_requests),
            unauthorized: self.unauthorized.saturating_add(other.unauthorized),
            unavailable: self.unavailable.saturating_add(other.unavailable),
            acknowledged: self.acknowledged.saturating_add(other.acknowledged),
            ack_wait_us: self.ack_wait_us.saturating_add(other.ack_wait_us),
        }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) records: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) bad_requests: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    pub(crate) acknowledged: AtomicU64,
    pub(crate) ack_wait_us: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// One acknowledged request that waited `waited` for its records.
    pub(crate) fn acknowledged_after(&self, waited: Duration) {
        Self::bump(&self.acknowledged, 1);
        Self::bump(
            &self.ack_wait_us,
            u64::try_from(waited.as_micros()).unwrap_or(u64::MAX),
        );
    }

    pub(crate) fn snapshot(&self) -> SourceStats {
        let n = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        SourceStats {
            requests: n(&self.requests),
            records: n(&self.records),
            bytes: n(&self.bytes),
            accepted: n(&self.accepted),
            bad_requests: n(&self.bad_requests),
            unauthorized: n(&self.unauthorized),
            unavailable: n(&self.unavailable),
            acknowledged: n(&self.acknowledged),
            ack_wait_us: n(&self.ack_wait_us),
        }
    }
}
