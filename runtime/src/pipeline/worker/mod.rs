//! The thread that drives one sink: takes batches from its queue, delivers
//! them with retries and restarts, dead-letters what cannot be delivered.
//!
//! One concern a file: [`run_loop`] (the loop, health, flush, restart),
//! [`outcome_plan`] (what an answer settles, decided without I/O),
//! [`delivery`] (a batch's plans carried out: retries, restarts, dead
//! letters),
//! [`retry_window`] (the outage clock, the retry window, what the operator
//! is told), [`merging`] (batches merged into one call and split back),
//! [`swap`] (hot swap, probation, rollback), [`lane_take`] (what a lane
//! takes of a batch).

mod delivery;
mod lane_take;
mod merging;
pub(crate) mod outcome_plan;
mod retry_window;
mod run_loop;
mod swap;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) use lane_take::take_for_lane;
use swap::Probation;

use super::counters::{ModuleState, SinkCounters};
use super::dead_letter::DeadLetterStore;
use super::outage::Outage;
use super::queue::SinkQueue;
use super::retry_policy::RetryPolicy;
use crate::sink::{Health, Sink};
use crate::wasm::{GuestLogBudget, SinkReloader};

/// Runs one call into a sink, turning a panic into an error message so a
/// buggy native sink is restarted like a crashed guest instead of killing
/// its worker.
fn guarded<R>(what: &str, call: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).map_err(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        format!("the sink panicked in `{what}`: {message}")
    })
}

/// State shared between a worker thread and the pipeline handle.
pub(crate) struct WorkerShared {
    pub name: String,
    pub queue: SinkQueue,
    pub counters: SinkCounters,
    pub health: Mutex<Health>,
    pub module: Mutex<ModuleState>,
    /// How to replace the running sink with a new module; the worker keeps
    /// it in step with what runs (a swap, a rollback).
    pub reloader: Mutex<Option<Arc<dyn SinkReloader>>>,
    /// The running sink's diagnostics budget, for its dropped-lines count.
    pub log_budget: Mutex<Option<Arc<GuestLogBudget>>>,
    /// The HTTP egress of a wasm sink with an HTTP grant (for its counters).
    pub http: Mutex<Option<Arc<crate::wasm::SinkEgress>>>,
    /// The routing counters of a `route` composite.
    pub route: Mutex<Option<Arc<dyn crate::sink::RoutedCounts>>>,
    /// Set when a shutdown's deadline passed: the worker stops delivering
    /// and dead-letters what is left, so nothing accepted is lost unsaid
    /// (a disk-buffered lane leaves it in the buffer instead).
    pub abandon: AtomicBool,
    /// The disk buffer and the worker's own queue, for a disk-buffered
    /// lane: the worker then reads from that queue.
    pub buffer: Option<Arc<super::disk_buffer::buffered_lane::BufferedLane>>,
    /// Whether the lane has looked once for a `when` field that never
    /// appears.
    pub when_checked: AtomicBool,
}

impl WorkerShared {
    fn abandoned(&self) -> bool {
        self.abandon.load(Ordering::Acquire)
    }
}

/// How a worker treats faults around start and reloads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FaultPolicy {
    /// Run without the sink when its first `start` fails, retrying it.
    pub optional: bool,
    /// Batches after a module reload within which a fault rolls it back.
    pub rollback_batches: u32,
}

/// Drives one sink on its own thread.
pub(crate) struct SinkWorker {
    shared: Arc<WorkerShared>,
    sink: Box<dyn Sink>,
    policy: RetryPolicy,
    faults: FaultPolicy,
    dead_letters: DeadLetterStore,
    running: bool,
    probation: Option<Probation>,
    /// For an optional sink that could not start: when to try again, and
    /// how many tries so far.
    start_retry: Option<(Instant, u32)>,
    /// Since when the sink has been failing, for the retry window and the
    /// operator's log lines.
    outage: Outage,
    /// The latest wait a deferral asked for (a breaker's cool-down), so
    /// waiting on it is not taken for an idle sink.
    last_deferral: Duration,
    /// For the buffered batch being delivered, under `max_age_action =
    /// "dead_letter"`: when a failure sends it to the dead letters.
    expires: Option<std::time::SystemTime>,
    /// The sequence number after the last record the sink was handed. A
    /// lane with a `when` numbers what it takes from here, so the numbers a
    /// sink sees never repeat, reloads included (a composite's target
    /// shares its counter with every lane that feeds that sink).
    next_sequence: Arc<std::sync::atomic::AtomicU64>,
}

impl SinkWorker {
    pub fn new(
        shared: Arc<WorkerShared>,
        sink: Box<dyn Sink>,
        policy: RetryPolicy,
        faults: FaultPolicy,
        dead_letters: DeadLetterStore,
    ) -> Self {
        Self {
            shared,
            sink,
            policy,
            faults,
            dead_letters,
            running: false,
            probation: None,
            start_retry: None,
            outage: Outage::default(),
            expires: None,
            last_deferral: Duration::ZERO,
            next_sequence: Arc::default(),
        }
    }

    /// Numbers renumbered records from `counter` (shared with other lanes
    /// that feed the same sink).
    pub fn numbering_from(mut self, counter: Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.next_sequence = counter;
        self
    }

    /// Starts the sink on a new thread; returns once `start` has answered, so
    /// a sink that cannot start is reported while the pipeline is built.
    pub fn spawn(mut self) -> Result<JoinHandle<()>, String> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let name = self.shared.name.clone();
        let handle = std::thread::Builder::new()
            .name(format!("sinkbox-sink-{name}"))
            .spawn(move || {
                match guarded("start", || self.sink.start())
                    .and_then(|r| r.map_err(|e| e.to_string()))
                {
                    Ok(()) => {
                        self.running = true;
                        let _ = tx.send(Ok(()));
                    }
                    Err(err) if self.faults.optional => {
                        tracing::warn!(
                            sink = %self.shared.name,
                            "an optional sink failed to start; running without it and retrying: {err}"
                        );
                        self.set_health(Health::Unhealthy(format!(
                            "start failed, retrying with back-off: {err}"
                        )));
                        self.start_retry = Some((Instant::now() + self.policy.backoff(1), 1));
                        let _ = tx.send(Ok(()));
                    }
                    Err(err) => {
                        let _ = tx.send(Err(err));
                        return;
                    }
                }
                self.run();
            })
            .map_err(|err| format!("could not spawn a worker thread: {err}"))?;
        match rx.recv() {
            Ok(Ok(())) => Ok(handle),
            Ok(Err(err)) => {
                let _ = handle.join();
                Err(err)
            }
            Err(_) => {
                let _ = handle.join();
                Err("the sink panicked while starting".to_owned())
            }
        }
    }

    /// Sleeps `pause`, waking early if a shutdown abandons the sink.
    fn pause(&self, pause: Duration) {
        let until = Instant::now() + pause;
        while !self.shared.abandoned() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }

    fn set_health(&self, health: Health) {
        *self.shared.health.lock().unwrap() = health;
    }
}
