//! Stopping a pipeline: every queue drained, every sink flushed and
//! stopped, within a deadline that any caller may set or shorten while
//! the shutdown runs (a `SIGTERM` arriving while the input's end is being
//! drained, say), and one report for everyone who asked.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::handle::Inner;
use super::{SinkLane, SinkStats};

/// The most a shutdown keeps back, out of its timeout, for sinks it
/// abandons to dead-letter what they hold: they are abandoned this long
/// before the deadline, so the deadline itself holds.
const ABANDON_BEFORE: Duration = Duration::from_secs(5);

/// When a shutdown abandons the sinks still delivering, and when it stops
/// waiting for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShutdownDeadline {
    abandon_at: Instant,
    give_up_at: Instant,
}

/// `now + timeout`, or a year from now when that overflows.
pub(super) fn instant_after(now: Instant, timeout: Duration) -> Instant {
    now.checked_add(timeout)
        .unwrap_or(now + Duration::from_secs(365 * 24 * 3600))
}

impl ShutdownDeadline {
    /// A deadline `timeout` from `now`: sinks are abandoned a quarter of it
    /// (at most [`ABANDON_BEFORE`]) before it.
    pub fn after(now: Instant, timeout: Duration) -> Self {
        let give_up_at = instant_after(now, timeout);
        let keep = (timeout / 4).min(ABANDON_BEFORE);
        Self {
            abandon_at: give_up_at.checked_sub(keep).unwrap_or(now),
            give_up_at,
        }
    }

    /// The earlier of the two, point by point.
    pub fn earliest(self, other: Option<Self>) -> Self {
        match other {
            None => self,
            Some(other) => Self {
                abandon_at: self.abandon_at.min(other.abandon_at),
                give_up_at: self.give_up_at.min(other.give_up_at),
            },
        }
    }
}

/// What [`crate::Pipeline::shutdown_within`] did.
#[derive(Debug, Clone)]
pub struct ShutdownReport {
    /// The final counters of every sink.
    pub stats: Vec<SinkStats>,
    /// Sinks that had not delivered everything by the deadline; what they
    /// still held went to their dead-letter files (or stayed in their disk
    /// buffers).
    pub unfinished: Vec<String>,
    /// Of those, the sinks still inside a call at the deadline, left
    /// behind: the batch in that call may be lost.
    pub left_behind: Vec<String>,
}

/// What a shutdown left: the sinks abandoned at the deadline, and those
/// still running when it gave up waiting.
#[derive(Clone, Debug, Default)]
pub(super) struct Leftovers {
    pub unfinished: Vec<String>,
    pub left_behind: Vec<String>,
}

impl Inner {
    /// Sets the shutdown's deadline, or brings it forward; a shutdown
    /// already waiting on its sinks keeps to the new one.
    pub(super) fn shorten_shutdown(&self, deadline: ShutdownDeadline) {
        let mut current = self.shutdown_deadline.lock();
        *current = Some(deadline.earliest(*current));
    }

    /// Refuses new events, drains and stops every sink; returns the sinks
    /// that did not finish by the deadline (none without one). A second
    /// call waits for the first to end and returns the same answer.
    pub(super) fn shutdown(&self) -> Leftovers {
        let _stopping = self.stopping.lock().unwrap();
        if self.closed.swap(true, Ordering::AcqRel) {
            return self.leftovers.lock().clone();
        }
        self.timer_wake.stop();
        let lanes = self.lanes.load_full();
        // Producers (and the batch timer) waiting on a full queue hold
        // events already accepted: let them through first, so neither the
        // timer nor the open batch waits on a slow sink.
        for lane in lanes.iter() {
            lane.open_queue();
        }
        if let Some(timer) = self.timer.lock().unwrap().take() {
            let _ = timer.join();
        }
        self.close_open_batch(true);
        for lane in lanes.iter() {
            lane.request_stop();
        }
        let leftovers = self.wait_for(&lanes);
        let _ = std::io::stdout().flush();
        *self.leftovers.lock() = leftovers.clone();
        leftovers
    }

    /// Waits for every lane to stop, keeping to the deadline as it is at
    /// each moment: past `abandon_at` the lanes left are abandoned at once
    /// (they dead-letter what they hold, or leave it in their buffer);
    /// past `give_up_at` a lane still inside a call is left behind.
    fn wait_for(&self, lanes: &[Arc<SinkLane>]) -> Leftovers {
        let mut running: Vec<&Arc<SinkLane>> = lanes.iter().collect();
        let mut unfinished: Vec<String> = Vec::new();
        let mut abandoned = false;
        loop {
            running.retain(|lane| !lane.join_until(Instant::now()));
            if running.is_empty() {
                return Leftovers {
                    unfinished,
                    left_behind: Vec::new(),
                };
            }
            let now = Instant::now();
            if let Some(deadline) = *self.shutdown_deadline.lock() {
                if !abandoned && now >= deadline.abandon_at {
                    abandoned = true;
                    for lane in &running {
                        lane.abandon();
                        unfinished.push(lane.name().to_owned());
                    }
                }
                if now >= deadline.give_up_at {
                    for lane in &running {
                        tracing::error!(sink = %lane.name(), "the sink did not finish by the shutdown deadline and is still inside a call; left behind");
                    }
                    return Leftovers {
                        unfinished,
                        left_behind: running.iter().map(|l| l.name().to_owned()).collect(),
                    };
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_are_abandoned_early_enough_for_the_deadline_to_hold() {
        let now = Instant::now();
        let thirty = ShutdownDeadline::after(now, Duration::from_secs(30));
        assert_eq!(thirty.give_up_at - now, Duration::from_secs(30));
        assert_eq!(thirty.abandon_at - now, Duration::from_secs(25));
        let two = ShutdownDeadline::after(now, Duration::from_secs(2));
        assert_eq!(two.abandon_at - now, Duration::from_millis(1500));
        assert_eq!(thirty.earliest(Some(two)), two);
        assert_eq!(thirty.earliest(None), thirty);
        let forever = ShutdownDeadline::after(now, Duration::MAX);
        assert!(forever.give_up_at > now + Duration::from_secs(3600));
    }
}
