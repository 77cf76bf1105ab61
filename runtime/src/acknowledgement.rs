//! End-to-end acknowledgements: records emitted together with
//! [`crate::Pipeline::emit_acknowledged`] carry one, and it resolves once
//! every sink that took them (after `when`, `route` and composites) has
//! settled them: delivered, dead-lettered, dropped by an explicit policy,
//! or written to that sink's disk buffer. A source answers its client from
//! it (an HTTP 200 only once the records are safe).
//!
//! Each queue a batch enters holds the acknowledgement open until the
//! worker behind it settles the batch; a composite's targets hold it in
//! turn before the composite lets go, so it resolves only when the last
//! of them is done. Batches without one pay nothing but a `None` check.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What became of acknowledged records, summed over the sinks that took
/// them. A record two sinks took counts once per sink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AckReport {
    /// Records that went to a sink's dead-letter file (refused by the
    /// destination, or past the retry limits): safe on disk, not delivered.
    pub dead_lettered: u64,
    /// Records dropped by an overflow policy (`drop_newest`, `drop_oldest`,
    /// a full disk buffer with `when_full = "drop_newest"`).
    pub dropped: u64,
    /// Records neither delivered nor kept anywhere (a dead-letter file that
    /// could not be written, a shutdown's deadline).
    pub lost: u64,
}

impl AckReport {
    /// Whether every record is delivered, in a disk buffer, or was left out
    /// by a sink's `when`: nothing dead-lettered, dropped or lost.
    pub fn all_delivered(&self) -> bool {
        *self == AckReport::default()
    }

    /// Whether every record is kept somewhere (delivered, buffered or
    /// dead-lettered): nothing dropped or lost.
    pub fn all_kept(&self) -> bool {
        self.dropped == 0 && self.lost == 0
    }
}

/// The shared state of one acknowledgement.
#[derive(Debug)]
pub(crate) struct AckState {
    /// Queues (and the emitter, while it routes) that still hold it.
    holds: AtomicUsize,
    report: Mutex<(AckReport, bool)>,
    resolved: Condvar,
}

impl AckState {
    /// A new acknowledgement, held once by its emitter.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            holds: AtomicUsize::new(1),
            report: Mutex::new((AckReport::default(), false)),
            resolved: Condvar::new(),
        })
    }

    /// One more queue holds it (call before the batch enters the queue).
    pub fn hold(&self) {
        self.holds.fetch_add(1, Ordering::AcqRel);
    }

    /// One holder settled its share, with what became of it; the last
    /// resolves the acknowledgement.
    pub fn release(&self, settled: AckReport) {
        {
            let mut report = self.report.lock().unwrap();
            report.0.dead_lettered += settled.dead_lettered;
            report.0.dropped += settled.dropped;
            report.0.lost += settled.lost;
        }
        if self.holds.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.report.lock().unwrap().1 = true;
            self.resolved.notify_all();
        }
    }
}

/// The emitter's handle on acknowledged records.
#[derive(Clone, Debug)]
pub struct Acknowledgement {
    state: Arc<AckState>,
}

impl Acknowledgement {
    pub(crate) fn new(state: Arc<AckState>) -> Self {
        Self { state }
    }

    /// The report once every sink settled the records, waiting up to
    /// `timeout`; `None` if they are not all settled by then.
    pub fn wait(&self, timeout: Duration) -> Option<AckReport> {
        let deadline = Instant::now() + timeout;
        let mut report = self.state.report.lock().unwrap();
        while !report.1 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            report = self.state.resolved.wait_timeout(report, left).unwrap().0;
        }
        Some(report.0)
    }

    /// The report if every sink has settled the records, without waiting.
    pub fn report(&self) -> Option<AckReport> {
        let report = self.state.report.lock().unwrap();
        report.1.then_some(report.0)
    }
}
