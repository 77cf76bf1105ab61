//! The thread that drives one sink: takes batches from its queue, delivers
//! them with retries and restarts, dead-letters what cannot be delivered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::control::SwapRequest;
use super::counters::{ModuleState, SinkCounters};
use super::dead_letter::DeadLetterStore;
use super::outage::{Outage, OutageNews};
use super::queue::{QueueItem, SinkQueue};
use super::retry_policy::RetryPolicy;
use super::sink_parts::sink_parts;
use crate::batch::Batch;
use crate::routing::{RoutedBatch, Selection};
use crate::sink::{FlushOutcome, Health, Sink, WriteOutcome};
use crate::wasm::{GuestLogBudget, SinkReloader};

/// Retries of a `flush` answered `retryable` when `max_retries` is unset.
const FLUSH_RETRIES: u32 = 5;

/// How often a worker asks its sink for its health (between calls).
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

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

/// What a lane takes of a dispatched batch under its `when`, numbered for
/// it from `next_sequence` (every batch when `renumber_all`: a disk buffer
/// numbers everything it keeps, so numbers carry across restarts);
/// `None` if its condition keeps nothing.
pub(crate) fn take_for_lane(
    shared: &WorkerShared,
    next_sequence: &std::sync::atomic::AtomicU64,
    routed: &RoutedBatch,
    renumber_all: bool,
) -> Option<Batch> {
    let counters = &shared.counters;
    let (batch, skipped) = match routed.for_lane(&shared.name) {
        Selection::Unfiltered(batch) if !renumber_all => {
            next_sequence.fetch_max(
                batch.first_sequence() + u64::from(batch.len()),
                Ordering::AcqRel,
            );
            SinkCounters::add(&counters.matched, u64::from(batch.len()));
            return Some(batch);
        }
        Selection::Unfiltered(batch) => (batch, 0),
        Selection::Nothing { skipped } => {
            SinkCounters::add(&counters.skipped, u64::from(skipped));
            warn_if_condition_fields_never_appear(shared, routed);
            return None;
        }
        Selection::Kept { batch, skipped } => (batch, skipped),
    };
    SinkCounters::add(&counters.skipped, u64::from(skipped));
    SinkCounters::add(&counters.matched, u64::from(batch.len()));
    let first = next_sequence.fetch_add(u64::from(batch.len()), Ordering::AcqRel);
    Some(batch.renumbered(first))
}

/// Records a lane's `when` must have skipped, with none kept, before the
/// lane checks once whether the fields it reads appear at all.
const NEVER_MATCHED_CHECK_AFTER: u64 = 1_000;

/// A lane whose `when` has kept nothing of its first
/// [`NEVER_MATCHED_CHECK_AFTER`] records looks, once, at the batch that
/// crossed the mark: a field the condition reads that none of its records
/// has is most likely misspelt (`levle`), and a warning says so.
fn warn_if_condition_fields_never_appear(shared: &WorkerShared, routed: &RoutedBatch) {
    let counters = &shared.counters;
    if counters.matched.load(Ordering::Relaxed) > 0
        || counters.skipped.load(Ordering::Relaxed) < NEVER_MATCHED_CHECK_AFTER
        || shared.when_checked.swap(true, Ordering::AcqRel)
    {
        return;
    }
    let Some(when) = routed.condition_of(&shared.name) else {
        return;
    };
    let names = when.field_names();
    let mut seen = vec![false; names.len()];
    for record in routed.batch().records() {
        for (seen, present) in seen.iter_mut().zip(when.fields_present(record)) {
            *seen |= present;
        }
    }
    let missing: Vec<String> = names
        .iter()
        .zip(&seen)
        .filter(|(_, seen)| !**seen)
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    if !missing.is_empty() {
        tracing::warn!(
            sink = %shared.name,
            "its `when` ({}) has kept none of the {} records so far, and none of the last {} has the field(s) {}: check the spelling (`sinkbox route --input SAMPLE` checks a sample)",
            when.text(),
            counters.skipped.load(Ordering::Relaxed),
            routed.batch().len(),
            missing.join(", ")
        );
    }
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
    pub route: Mutex<Option<Arc<crate::composite::RouteCounters>>>,
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

/// The module a reload replaced, kept (stopped) for its first batches so a
/// fault of the new one can swap it back.
struct Probation {
    previous: Box<dyn Sink>,
    reloader: Option<Arc<dyn SinkReloader>>,
    hash: Option<String>,
    batches_left: u32,
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

    /// For a sink that takes merged batches: `batch` followed by the batches
    /// queued right behind it, as one batch within the sink's limit, and the
    /// batch taken that did not fit (to deliver next). A control item, a
    /// gap in the numbers or the limit ends the merge.
    fn merge_queued(&self, queue: &SinkQueue, batch: Batch) -> (Vec<Batch>, Option<Batch>) {
        let Some(limit) = self.sink.merge_limit() else {
            return (vec![batch], None);
        };
        let mut size = batch.bytes().len();
        let mut parts = vec![batch];
        let mut left_over = None;
        while size < limit {
            let Some(routed) = queue.pop_front_batch() else {
                break;
            };
            let Some(next) = take_for_lane(&self.shared, &self.next_sequence, &routed, false)
            else {
                continue;
            };
            let last = parts.last().expect("parts start with one batch");
            let follows = last.first_sequence() + u64::from(last.len()) == next.first_sequence();
            if !follows || size + next.bytes().len() > limit {
                left_over = Some(next);
                break;
            }
            size += next.bytes().len();
            parts.push(next);
        }
        (parts, left_over)
    }

    fn run(&mut self) {
        let shared = self.shared.clone();
        let queue = match &shared.buffer {
            Some(lane) => &lane.queue,
            None => &shared.queue,
        };
        let mut last_health = Instant::now();
        loop {
            // Health is asked every interval between calls, whatever arrives
            // (periodic flushes must not keep an idle sink from being asked).
            if last_health.elapsed() >= HEALTH_INTERVAL {
                self.refresh_health();
                last_health = Instant::now();
            }
            let health_due = HEALTH_INTERVAL.saturating_sub(last_health.elapsed());
            let wait = match self.start_retry {
                Some((at, _)) => at.saturating_duration_since(Instant::now()).min(health_due),
                None => health_due,
            };
            let Some(item) = queue.pop(wait) else {
                self.retry_start();
                continue;
            };
            match item {
                QueueItem::Batch(routed) => {
                    let mut next = take_for_lane(&shared, &self.next_sequence, &routed, false);
                    while let Some(batch) = next.take() {
                        let (parts, left_over) = self.merge_queued(queue, batch);
                        // Probation counts batches, merged or not.
                        let batches = parts.len() as u32;
                        self.deliver_merged(parts);
                        self.probation_tick(batches);
                        next = left_over;
                    }
                }
                QueueItem::Buffered(item) => {
                    let super::queue::BufferedBatch {
                        batch,
                        through,
                        on_disk,
                        written,
                    } = *item;
                    self.expires = self.expiry_of(written);
                    let done = match batch {
                        Some(batch) => self.deliver(batch, on_disk),
                        None => true,
                    };
                    self.expires = None;
                    if let (true, Some(lane)) = (done, &shared.buffer) {
                        lane.buffer.ack_through(through);
                    }
                    self.probation_tick(1);
                }
                QueueItem::Flush(ticket) => ticket.complete(self.flush(Some(ticket.deadline))),
                QueueItem::Swap(request) => self.swap(*request),
                QueueItem::Stop => {
                    if self.running {
                        if self.shared.abandoned() {
                            let _ = guarded("abandon", || self.sink.abandon());
                        } else {
                            let _ = self.flush(None);
                        }
                        let _ = guarded("stop", || self.sink.stop());
                    }
                    return;
                }
            }
        }
    }

    /// An optional sink that could not start: tries `start` again once its
    /// back-off has passed.
    fn retry_start(&mut self) {
        let Some((at, attempts)) = self.start_retry else {
            return;
        };
        if self.running {
            self.start_retry = None;
            return;
        }
        if Instant::now() < at {
            return;
        }
        if self.restart() {
            tracing::info!(sink = %self.shared.name, "the optional sink started after {attempts} failed attempt(s)");
            self.set_health(Health::Healthy);
            self.start_retry = None;
        } else {
            let attempts = attempts + 1;
            self.start_retry = Some((Instant::now() + self.policy.backoff(attempts), attempts));
        }
    }

    /// Replaces the sink at a batch boundary: the old one is flushed and
    /// stopped, the new one (already started) takes every later batch. After
    /// a module reload the old one is kept, stopped, for the first
    /// `rollback_batches` batches.
    fn swap(&mut self, request: SwapRequest) {
        let started = Instant::now();
        let was_running = self.running;
        if self.running {
            if let Err(err) = self.flush(None) {
                tracing::warn!(sink = %self.shared.name, "the replaced instance did not flush: {err}");
            }
            let _ = guarded("stop", || self.sink.stop());
        }
        let parts = sink_parts(&*request.sink);
        let new_reloader = parts.reloader;
        let old = std::mem::replace(&mut self.sink, request.sink);
        let old_reloader =
            std::mem::replace(&mut *self.shared.reloader.lock().unwrap(), new_reloader);
        *self.shared.log_budget.lock().unwrap() = parts.log_budget;
        *self.shared.http.lock().unwrap() = parts.http;
        *self.shared.route.lock().unwrap() = parts.route;
        let old_hash = {
            let mut module = self.shared.module.lock().unwrap();
            module.last_error = None;
            std::mem::replace(&mut module.hash, request.hash)
        };
        self.probation = if request.rollback && was_running && self.faults.rollback_batches > 0 {
            Some(Probation {
                previous: old,
                reloader: old_reloader,
                hash: old_hash,
                batches_left: self.faults.rollback_batches,
            })
        } else {
            // Dropping a wasm instance frees its store.
            drop(old);
            None
        };
        if let Some(settings) = request.settings {
            let buffer_now = self
                .shared
                .buffer
                .as_ref()
                .map(|b| b.buffer.options().clone());
            if settings.buffer != buffer_now {
                tracing::warn!(
                    sink = %self.shared.name,
                    "the sink's `buffer` changed; a disk buffer is set up when the sink starts, so the change takes effect at the next start"
                );
            }
            self.policy = settings.retry;
            self.faults = FaultPolicy {
                optional: settings.optional,
                rollback_batches: settings.rollback_batches,
            };
            self.dead_letters
                .set_max_bytes(settings.dead_letter_max_bytes);
        }
        self.running = true;
        self.start_retry = None;
        self.set_health(Health::Healthy);
        SinkCounters::add(&self.shared.counters.reloads, 1);
        request.done.complete(started.elapsed());
    }

    /// `batches` more went through the reloaded module without a fault.
    fn probation_tick(&mut self, batches: u32) {
        if let Some(probation) = &mut self.probation {
            probation.batches_left = probation.batches_left.saturating_sub(batches);
            if probation.batches_left == 0 {
                self.probation = None;
            }
        }
    }

    /// The module swapped in by a reload faulted on one of its first
    /// batches: starts the previous module again and swaps it back. Returns
    /// whether it did (the caller then redelivers to it).
    fn roll_back(&mut self, why: &str) -> bool {
        let Some(probation) = self.probation.take() else {
            return false;
        };
        let mut previous = probation.previous;
        if let Err(err) =
            guarded("start", || previous.start()).and_then(|r| r.map_err(|e| e.to_string()))
        {
            tracing::error!(sink = %self.shared.name, "the new module faulted ({why}) and the previous one could not be started again: {err}");
            return false;
        }
        // The faulted instance is not called again: dropped without `stop`.
        drop(std::mem::replace(&mut self.sink, previous));
        *self.shared.reloader.lock().unwrap() = probation.reloader;
        let parts = sink_parts(&*self.sink);
        *self.shared.log_budget.lock().unwrap() = parts.log_budget;
        *self.shared.http.lock().unwrap() = parts.http;
        let message = format!(
            "rolled back: the new module faulted within its first {} batch(es) after the reload: {why}",
            self.faults.rollback_batches
        );
        {
            let mut module = self.shared.module.lock().unwrap();
            module.hash = probation.hash;
            module.last_error = Some(message.clone());
        }
        SinkCounters::add(&self.shared.counters.rollbacks, 1);
        tracing::warn!(sink = %self.shared.name, "{message}");
        self.running = true;
        true
    }

    /// Asks a running sink for its health. A stopped sink keeps the health
    /// recorded when it broke, which says why.
    fn refresh_health(&mut self) {
        if !self.running {
            return;
        }
        let health = guarded("health", || self.sink.health()).unwrap_or_else(Health::Unhealthy);
        // A crash inside `health` leaves nothing to stop: restart on the next batch.
        if self.sink.needs_restart() {
            self.running = false;
            if let Health::Unhealthy(why) = &health
                && self.roll_back(why)
            {
                return;
            }
        }
        self.set_health(health);
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

    /// Flushes the sink, retrying `retryable` answers with back-off up to the
    /// retry limit, and never past `deadline` (the caller's flush deadline).
    fn flush(&mut self, deadline: Option<Instant>) -> Result<(), String> {
        if !self.running && !self.restart() {
            return Err("the sink is not running and could not be restarted".into());
        }
        let mut attempt = 0;
        // By count, not by the retry window: a swap and a stop wait on
        // this flush, and a reload may be what fixes the sink.
        let max_attempts = self.policy.max_retries.unwrap_or(FLUSH_RETRIES);
        loop {
            match guarded("flush", || self.sink.flush()).unwrap_or_else(FlushOutcome::Fatal) {
                FlushOutcome::Done => return Ok(()),
                FlushOutcome::Retryable(reason) => {
                    attempt += 1;
                    let pause = self.policy.backoff(attempt);
                    let past_deadline = deadline.is_some_and(|d| Instant::now() + pause >= d);
                    if attempt > max_attempts || past_deadline || self.shared.abandoned() {
                        return Err(format!(
                            "flush still failing after {attempt} attempts: {reason}"
                        ));
                    }
                    self.pause(pause);
                }
                FlushOutcome::Fatal(reason) => {
                    SinkCounters::add(&self.shared.counters.fatal, 1);
                    self.running = false;
                    if self.roll_back(&reason) {
                        return Err(format!("flush failed, module rolled back: {reason}"));
                    }
                    self.restart();
                    return Err(format!("flush failed: {reason}"));
                }
            }
        }
    }

    /// Drops the broken sink state and starts it again. Returns whether the
    /// sink runs afterwards; only a successful restart is counted.
    fn restart(&mut self) -> bool {
        match guarded("restart", || self.sink.restart()).and_then(|r| r.map_err(|e| e.to_string()))
        {
            Ok(()) => {
                SinkCounters::add(&self.shared.counters.restarts, 1);
                self.running = true;
                true
            }
            Err(err) => {
                tracing::warn!(sink = %self.shared.name, "restart failed: {err}");
                self.set_health(Health::Unhealthy(format!("restart failed: {err}")));
                self.running = false;
                false
            }
        }
    }

    /// Delivers `parts` (consecutive batches) in one call when there are
    /// several and the sink runs. Whatever that call does not accept goes
    /// back as the batches it was made of, each delivered alone with its own
    /// retries and restarts: merging saves calls, never widens what one
    /// poisoned batch takes down with it.
    fn deliver_merged(&mut self, parts: Vec<Batch>) {
        if parts.len() == 1 || !self.running || self.shared.abandoned() {
            for part in parts {
                self.deliver(part, false);
            }
            return;
        }
        self.deliver_batch(Batch::concat(&parts), false, parts);
    }

    /// After a merged call: `rest` (its unsettled tail) goes back as the
    /// parts it overlaps, each delivered alone; parts the call settled whole
    /// count as delivered batches.
    fn deliver_parts_of(&mut self, rest: &Batch, parts: Vec<Batch>) -> bool {
        tracing::debug!(
            sink = %self.shared.name,
            "a merged batch was not taken whole; delivering its last {} records as the batches they came in",
            rest.len()
        );
        let first_unsettled = rest.first_sequence();
        for part in parts {
            let done = first_unsettled.saturating_sub(part.first_sequence());
            if done >= u64::from(part.len()) {
                SinkCounters::add(&self.shared.counters.batches, 1);
                continue;
            }
            // The merged call was an extra one: each batch's own retries
            // start from here.
            self.deliver(part.skip(done as u32), false);
        }
        true
    }

    /// Delivers one batch: retries `retryable` and the tail of `partial` with
    /// back-off, restarts the sink on `fatal`, dead-letters when the limits run
    /// out or on `rejected`. `false` when a shutdown's deadline left a
    /// `buffered` batch undelivered: it stays in the disk buffer.
    fn deliver(&mut self, batch: Batch, buffered: bool) -> bool {
        self.deliver_batch(batch, buffered, Vec::new())
    }

    /// [`Self::deliver`]; `parts`, when not empty, are the batches `batch`
    /// was merged from: an answer other than `accepted` then settles what it
    /// can and hands the rest to [`Self::deliver_parts_of`] instead of
    /// retrying the merged batch.
    fn deliver_batch(&mut self, mut batch: Batch, buffered: bool, parts: Vec<Batch>) -> bool {
        let merged = !parts.is_empty();
        let batches = parts.len().max(1) as u64;
        let shared = self.shared.clone();
        let counters = &shared.counters;
        let mut retries = 0u32;
        let mut restarts = 0u32;
        let mut sent_before = false;
        let mut last_failure = String::new();
        loop {
            if self.shared.abandoned() {
                if buffered {
                    return false;
                }
                self.dead_letter(
                    &batch,
                    "the pipeline shut down before this batch was delivered (its shutdown deadline passed)",
                );
                return true;
            }
            if !self.running {
                if restarts >= self.policy.max_restarts {
                    self.dead_letter(
                        &batch,
                        &format!(
                            "the sink failed again after {} restarts: {last_failure}",
                            self.policy.max_restarts
                        ),
                    );
                    return true;
                }
                restarts += 1;
                if !self.restart() {
                    last_failure = "the sink could not be restarted".into();
                    self.pause(self.policy.backoff(restarts));
                    continue;
                }
            }
            let outcome =
                guarded("write", || self.sink.write(&batch)).unwrap_or_else(WriteOutcome::Fatal);
            // A retry is a batch (or its tail) actually sent again; a
            // deferred batch was not sent.
            if !matches!(outcome, WriteOutcome::Deferred { .. })
                && std::mem::replace(&mut sent_before, true)
            {
                SinkCounters::add(&counters.retries, 1);
            }
            self.note_outcome(&outcome, batch.len());
            match outcome {
                WriteOutcome::Accepted => {
                    self.batch_done(&batch, batches);
                    return true;
                }
                WriteOutcome::Deferred { wait, reason } => {
                    SinkCounters::add(&counters.deferred, 1);
                    self.last_deferral = wait;
                    if let Some(why) = self.give_up(0) {
                        self.dead_letter(&batch, &format!("{why}: {reason}"));
                        return true;
                    }
                    self.set_health(Health::Unhealthy(reason));
                    self.pause(self.wait_within_window(wait));
                    if merged {
                        return self.deliver_parts_of(&batch, parts);
                    }
                }
                WriteOutcome::Partial { accepted, reason } if accepted < batch.len() => {
                    SinkCounters::add(&counters.partial, 1);
                    self.accepted(&batch.take(accepted));
                    batch = batch.skip(accepted);
                    if merged {
                        return self.deliver_parts_of(&batch, parts);
                    }
                    if !self.back_off(&mut retries, &batch, &reason) {
                        return true;
                    }
                }
                WriteOutcome::Partial { accepted, .. } => {
                    if accepted > batch.len() {
                        tracing::warn!(
                            sink = %self.shared.name,
                            "contract violation: `partial` accepted {accepted} of {} records; treated as accepted",
                            batch.len()
                        );
                    }
                    self.batch_done(&batch, batches);
                    return true;
                }
                WriteOutcome::Retryable(reason) => {
                    SinkCounters::add(&counters.retryable, 1);
                    if merged {
                        self.set_health(Health::Degraded(format!("retrying: {reason}")));
                        self.pause(self.wait_within_window(self.policy.backoff(1)));
                        return self.deliver_parts_of(&batch, parts);
                    }
                    if !self.back_off(&mut retries, &batch, &reason) {
                        return true;
                    }
                }
                WriteOutcome::Rejected(reason) => {
                    SinkCounters::add(&counters.rejected, 1);
                    if merged {
                        return self.deliver_parts_of(&batch, parts);
                    }
                    self.dead_letter(&batch, &format!("rejected: {reason}"));
                    return true;
                }
                WriteOutcome::Refused {
                    handled,
                    refused,
                    retry_reason,
                } => {
                    let handled = handled.min(batch.len());
                    self.settle_refused(&batch.take(handled), refused);
                    if handled == batch.len() {
                        SinkCounters::add(&counters.batches, batches);
                        return true;
                    }
                    SinkCounters::add(&counters.partial, 1);
                    batch = batch.skip(handled);
                    if merged {
                        return self.deliver_parts_of(&batch, parts);
                    }
                    if !self.back_off(&mut retries, &batch, &retry_reason) {
                        return true;
                    }
                }
                WriteOutcome::Fatal(reason) => {
                    SinkCounters::add(&counters.fatal, 1);
                    tracing::warn!(sink = %self.shared.name, "fatal: {reason}");
                    self.running = false;
                    let rolled_back = self.roll_back(&reason);
                    if merged {
                        // To the previous module, if rolled back.
                        return self.deliver_parts_of(&batch, parts);
                    }
                    if rolled_back {
                        // Redeliver to the previous module: what the new
                        // one accepted is already counted and skipped.
                        sent_before = false;
                        continue;
                    }
                    last_failure = reason;
                }
            }
        }
    }

    /// `batch` (made of `batches` of the pipeline's) was delivered.
    fn batch_done(&self, batch: &Batch, batches: u64) {
        self.accepted(batch);
        SinkCounters::add(&self.shared.counters.batches, batches);
        let mut health = self.shared.health.lock().unwrap();
        if *health != Health::Healthy {
            *health = Health::Healthy;
        }
    }

    /// When a buffered batch written at `written` expires, if the buffer
    /// dead-letters batches past its `max_age`.
    fn expiry_of(&self, written: Option<std::time::SystemTime>) -> Option<std::time::SystemTime> {
        let options = self.shared.buffer.as_ref()?.buffer.options();
        match (options.max_age_action, options.max_age) {
            (super::MaxAgeAction::DeadLetter, Some(max_age)) => Some(written? + max_age),
            _ => None,
        }
    }

    /// Why a failing batch is given up on now: its retries, the sink's
    /// retry window, or (buffered) its age.
    fn give_up(&self, retries: u32) -> Option<String> {
        if let Some(expires) = self.expires
            && std::time::SystemTime::now() >= expires
        {
            let max_age = self
                .shared
                .buffer
                .as_ref()
                .and_then(|lane| lane.buffer.options().max_age)
                .unwrap_or_default();
            return Some(format!(
                "older than the disk buffer's max_age ({}) and still failing",
                humantime::format_duration(max_age)
            ));
        }
        let outage = self.outage.length(Instant::now());
        self.policy.give_up(retries, outage, self.disk_buffered())
    }

    /// Spends one retry and sleeps the back-off; dead-letters and returns
    /// `false` once the retry limit or the retry window is spent.
    fn back_off(&mut self, retries: &mut u32, batch: &Batch, reason: &str) -> bool {
        *retries += 1;
        if let Some(why) = self.give_up(*retries) {
            self.dead_letter(batch, &format!("{why}: {reason}"));
            return false;
        }
        self.set_health(Health::Degraded(format!("retrying: {reason}")));
        self.pause(self.wait_within_window(self.policy.backoff(*retries)));
        true
    }

    /// `wait`, cut short where the retry window ends (the batch then gets
    /// its last try on time), and at least a millisecond.
    fn wait_within_window(&self, wait: Duration) -> Duration {
        let left = self
            .policy
            .retry_window(self.disk_buffered())
            .map_or(wait, |window| {
                window.saturating_sub(self.outage.length(Instant::now()))
            });
        wait.min(left).max(Duration::from_millis(1))
    }

    /// Whether the sink has a disk buffer (its batches then wait out an
    /// outage there, without a retry window unless one is set).
    fn disk_buffered(&self) -> bool {
        self.shared.buffer.is_some()
    }

    /// Keeps the outage clock from an answer to a batch of `len` records,
    /// and tells the operator, at a bounded rate, that the sink is failing
    /// and when it delivers again.
    fn note_outcome(&mut self, outcome: &WriteOutcome, len: u32) {
        let now = Instant::now();
        let failure = match outcome {
            WriteOutcome::Retryable(reason) | WriteOutcome::Deferred { reason, .. } => Some(reason),
            WriteOutcome::Partial {
                accepted: 0,
                reason,
            } if len > 0 => Some(reason),
            WriteOutcome::Refused {
                handled: 0,
                retry_reason,
                ..
            } if len > 0 => Some(retry_reason),
            // A fault is the sink's, not the destination's: restarts
            // handle it.
            WriteOutcome::Fatal(_) => return,
            _ => None,
        };
        let news = match failure {
            Some(_) => self.outage.failed(now, self.idle_after()),
            None => self.outage.succeeded(now),
        };
        let Some(news) = news else {
            return;
        };
        let name = &self.shared.name;
        let buffered = self.buffer_backlog();
        match news {
            OutageNews::Started => {
                let until = match self.policy.retry_window(self.disk_buffered()) {
                    Some(window) => format!(
                        "for up to {} (max_retry_duration)",
                        humantime::format_duration(window)
                    ),
                    None => "while the disk buffer holds".into(),
                };
                tracing::warn!(sink = %name, "the sink is failing; retrying {until}: {}", failure.map_or("", |r| r));
            }
            OutageNews::Continues(length) => tracing::warn!(
                sink = %name,
                "the sink is still failing after {}{buffered}: {}",
                humantime::format_duration(Duration::from_secs(length.as_secs())),
                failure.map_or("", |r| r)
            ),
            OutageNews::Ended(length) => tracing::info!(
                sink = %name,
                "the sink delivers again after failing for {}{buffered}",
                humantime::format_duration(Duration::from_millis(length.as_millis() as u64))
            ),
        }
    }

    /// A failure this long after the one before starts a new outage:
    /// longer than any wait between the tries of one.
    fn idle_after(&self) -> Duration {
        (self.policy.max_backoff.max(self.last_deferral) * 2).max(Duration::from_secs(30))
    }

    /// What a disk-buffered sink holds, for the outage lines; empty
    /// without a buffer.
    fn buffer_backlog(&self) -> String {
        let Some(lane) = &self.shared.buffer else {
            return String::new();
        };
        let stats = lane.buffer.stats();
        format!(
            "; {} batch(es), {}, in the disk buffer, the oldest {} old",
            stats.batches,
            bytesize::ByteSize::b(stats.bytes).display().iec(),
            humantime::format_duration(Duration::from_secs(stats.oldest_undelivered_ms / 1000))
        )
    }

    /// Dead-letters each refused range of `handled` (the records a
    /// `refused` answer dealt with) and counts the rest as delivered.
    /// Ranges out of order, overlapping or past the end are a contract
    /// violation: what they cover beyond the valid part counts as delivered,
    /// with a warning.
    fn settle_refused(&mut self, handled: &Batch, refused: Vec<(std::ops::Range<u32>, String)>) {
        let mut next = 0u32;
        for (range, reason) in refused {
            let start = range.start.max(next);
            let end = range.end.min(handled.len());
            if start >= end {
                tracing::warn!(
                    sink = %self.shared.name,
                    "contract violation: `refused` listed records {range:?} out of order or past the {} handled; ignored",
                    handled.len()
                );
                continue;
            }
            self.accepted(&handled.skip(next).take(start - next));
            SinkCounters::add(&self.shared.counters.rejected, 1);
            let records = handled.skip(start).take(end - start);
            self.dead_letter(&records, &format!("refused: {reason}"));
            next = end;
        }
        self.accepted(&handled.skip(next));
    }

    fn accepted(&self, batch: &Batch) {
        let counters = &self.shared.counters;
        SinkCounters::add(&counters.records, u64::from(batch.len()));
        SinkCounters::add(&counters.bytes, batch.bytes().len() as u64);
    }

    fn dead_letter(&mut self, batch: &Batch, reason: &str) {
        match self.dead_letters.write(batch, reason) {
            Ok(written) => {
                let counters = &self.shared.counters;
                SinkCounters::add(&counters.dead_lettered_dropped, written.dropped);
                if written.stored {
                    SinkCounters::add(&counters.dead_lettered, u64::from(batch.len()));
                    tracing::warn!(
                        sink = %self.shared.name,
                        path = %self.dead_letters.path().display(),
                        "dead-lettered {} records: {reason}",
                        batch.len()
                    );
                } else {
                    SinkCounters::add(&counters.lost, u64::from(batch.len()));
                    tracing::error!(
                        sink = %self.shared.name,
                        "dropped {} undeliverable records: the batch alone is larger than dead_letter_max_bytes ({reason})",
                        batch.len()
                    );
                }
                if written.dropped > 0 && written.stored {
                    tracing::warn!(
                        sink = %self.shared.name,
                        "the dead-letter store reached dead_letter_max_bytes; deleted its oldest file ({} records)",
                        written.dropped
                    );
                }
            }
            Err(err) => {
                SinkCounters::add(&self.shared.counters.lost, u64::from(batch.len()));
                tracing::error!(
                    sink = %self.shared.name,
                    path = %self.dead_letters.path().display(),
                    "lost {} records: they could not be delivered ({reason}) nor written to the dead-letter file: {err}",
                    batch.len()
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The worker's outcome handling, driven by a sink that answers from a
    //! script: one row per behaviour.

    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::sink::SinkError;

    /// Answers each `write` with the next scripted outcome (`None` panics),
    /// then `Accepted`; records which records each write saw.
    struct ScriptedSink {
        script: VecDeque<Option<WriteOutcome>>,
        seen: Writes,
    }

    impl Sink for ScriptedSink {
        fn start(&mut self) -> Result<(), SinkError> {
            Ok(())
        }

        fn write(&mut self, batch: &Batch) -> WriteOutcome {
            self.seen
                .lock()
                .unwrap()
                .push((batch.first_sequence(), batch.len()));
            match self.script.pop_front() {
                Some(Some(outcome)) => outcome,
                Some(None) => panic!("scripted panic"),
                None => WriteOutcome::Accepted,
            }
        }
    }

    struct Row {
        name: &'static str,
        script: Vec<Option<WriteOutcome>>,
        /// (records accepted, dead-lettered, retries, restarts)
        expect: (u64, u64, u64, u64),
        /// (first sequence, count) of every write the sink saw.
        writes: Vec<(u64, u32)>,
    }

    fn retry() -> WriteOutcome {
        WriteOutcome::Retryable("busy".into())
    }

    fn deferred() -> WriteOutcome {
        WriteOutcome::Deferred {
            wait: Duration::from_micros(1),
            reason: "breaker open".into(),
        }
    }

    fn fatal() -> WriteOutcome {
        WriteOutcome::Fatal("broken".into())
    }

    /// (first sequence, count) of every write a [`ScriptedSink`] saw.
    type Writes = Arc<Mutex<Vec<(u64, u32)>>>;

    /// A running worker around a [`ScriptedSink`]: two retries, two restarts.
    fn scripted_worker(
        dir: &std::path::Path,
        script: Vec<Option<WriteOutcome>>,
    ) -> (SinkWorker, Arc<WorkerShared>, Writes) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(WorkerShared {
            name: "scripted".into(),
            queue: SinkQueue::new(4, Default::default()),
            counters: Default::default(),
            health: Mutex::new(Health::Healthy),
            module: Mutex::new(ModuleState::default()),
            reloader: Mutex::new(None),
            log_budget: Mutex::new(None),
            http: Mutex::new(None),
            route: Mutex::new(None),
            abandon: Default::default(),
            buffer: None,
            when_checked: Default::default(),
        });
        let sink = ScriptedSink {
            script: script.into(),
            seen: seen.clone(),
        };
        let policy = RetryPolicy {
            max_retries: Some(2),
            max_retry_duration: None,
            initial_backoff: Duration::from_micros(1),
            max_backoff: Duration::from_micros(1),
            max_restarts: 2,
        };
        let faults = FaultPolicy {
            optional: false,
            rollback_batches: 0,
        };
        let mut worker = SinkWorker::new(
            shared.clone(),
            Box::new(sink),
            policy,
            faults,
            DeadLetterStore::new(dir, "scripted", 1 << 20),
        );
        worker.running = true;
        (worker, shared, seen)
    }

    /// Checks the counters and the writes against `row`; returns the stats.
    fn check(row: &Row, shared: &WorkerShared, seen: &Writes) -> crate::SinkStats {
        let stats = shared
            .counters
            .snapshot("scripted", 0, &ModuleState::default(), 0, None);
        assert_eq!(
            (
                stats.records,
                stats.dead_lettered,
                stats.retries,
                stats.restarts
            ),
            row.expect,
            "{}: {stats:?}",
            row.name
        );
        assert_eq!(*seen.lock().unwrap(), row.writes, "{}", row.name);
        stats
    }

    #[test]
    fn every_outcome_is_handled_as_the_contract_says() {
        let partial = |accepted| WriteOutcome::Partial {
            accepted,
            reason: "half".into(),
        };
        let rows = vec![
            Row {
                name: "accepted",
                script: vec![],
                expect: (4, 0, 0, 0),
                writes: vec![(10, 4)],
            },
            Row {
                name: "retryable once, then accepted",
                script: vec![Some(retry())],
                expect: (4, 0, 1, 0),
                writes: vec![(10, 4), (10, 4)],
            },
            Row {
                name: "retryable past max_retries is dead-lettered",
                script: vec![Some(retry()), Some(retry()), Some(retry())],
                expect: (0, 4, 2, 0),
                writes: vec![(10, 4), (10, 4), (10, 4)],
            },
            Row {
                name: "partial retries only the tail",
                script: vec![Some(partial(1)), Some(partial(2))],
                expect: (4, 0, 2, 0),
                writes: vec![(10, 4), (11, 3), (13, 1)],
            },
            Row {
                name: "partial past the batch counts as accepted",
                script: vec![Some(partial(9))],
                expect: (4, 0, 0, 0),
                writes: vec![(10, 4)],
            },
            Row {
                name: "partial 0 forever runs out of retries",
                script: vec![Some(partial(0)), Some(partial(0)), Some(partial(0))],
                expect: (0, 4, 2, 0),
                writes: vec![(10, 4), (10, 4), (10, 4)],
            },
            Row {
                name: "deferred (an open breaker) never uses up retries",
                script: vec![
                    Some(deferred()),
                    Some(deferred()),
                    Some(deferred()),
                    Some(deferred()),
                    Some(retry()),
                    Some(deferred()),
                ],
                expect: (4, 0, 1, 0),
                writes: vec![(10, 4); 7],
            },
            Row {
                name: "rejected is dead-lettered without a retry",
                script: vec![Some(WriteOutcome::Rejected("no".into()))],
                expect: (0, 4, 0, 0),
                writes: vec![(10, 4)],
            },
            Row {
                name: "fatal restarts, then the batch goes through",
                script: vec![Some(fatal())],
                expect: (4, 0, 1, 1),
                writes: vec![(10, 4), (10, 4)],
            },
            Row {
                name: "fatal past max_restarts is dead-lettered",
                script: vec![Some(fatal()), Some(fatal()), Some(fatal())],
                expect: (0, 4, 2, 2),
                writes: vec![(10, 4), (10, 4), (10, 4)],
            },
            Row {
                name: "a panic in write is a fatal",
                script: vec![None],
                expect: (4, 0, 1, 1),
                writes: vec![(10, 4), (10, 4)],
            },
        ];
        for mut row in rows {
            let dir = tempfile::tempdir().unwrap();
            let script = std::mem::take(&mut row.script);
            let (mut worker, shared, seen) = scripted_worker(dir.path(), script);
            let records: Vec<String> = (0..4).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
            worker.deliver(Batch::from_records(&records, 10), false);
            check(&row, &shared, &seen);
        }
    }

    #[test]
    fn past_the_retry_window_a_failing_batch_gets_one_try_and_is_dead_lettered() {
        let dir = tempfile::tempdir().unwrap();
        let (mut worker, shared, seen) =
            scripted_worker(dir.path(), vec![Some(retry()), Some(deferred())]);
        worker.policy.max_retries = None;
        worker.policy.max_retry_duration = Some(Duration::ZERO);
        let records: Vec<String> = (0..4).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
        worker.deliver(Batch::from_records(&records, 10), false);
        worker.deliver(Batch::from_records(&records, 14), false);
        let row = Row {
            name: "window spent",
            script: vec![],
            expect: (0, 8, 0, 0),
            writes: vec![(10, 4), (14, 4)],
        };
        check(&row, &shared, &seen);
        let reasons: Vec<String> = crate::pipeline::read_dead_letters(
            &dir.path().join("dead-letter").join("scripted.ndjson"),
        )
        .unwrap()
        .into_iter()
        .map(|letter| letter.reason)
        .collect();
        assert!(
            reasons
                .iter()
                .all(|r| r.starts_with("the sink has delivered nothing for")),
            "{reasons:?}"
        );
    }

    #[test]
    fn a_merged_batch_not_taken_whole_goes_back_as_the_batches_it_was_made_of() {
        let parts = |records: &Vec<String>| -> Vec<Batch> {
            (0..3)
                .map(|i| Batch::from_records(&records[i * 4..i * 4 + 4], 10 + i as u64 * 4))
                .collect()
        };
        let records: Vec<String> = (0..12).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
        let partial = |accepted| WriteOutcome::Partial {
            accepted,
            reason: "half".into(),
        };
        let rows = vec![
            Row {
                name: "accepted whole: one call",
                script: vec![],
                expect: (12, 0, 0, 0),
                writes: vec![(10, 12)],
            },
            Row {
                name: "a trap in the merged call: each batch alone, the poisoned one dead-lettered",
                // merged, first alone, second alone x3, third alone
                script: vec![
                    Some(fatal()),
                    Some(WriteOutcome::Accepted),
                    Some(fatal()),
                    Some(fatal()),
                    Some(fatal()),
                ],
                expect: (8, 4, 2, 4),
                writes: vec![(10, 12), (10, 4), (14, 4), (14, 4), (14, 4), (18, 4)],
            },
            Row {
                name: "rejected whole: each batch alone, only the one rejected again is dead-lettered",
                script: vec![
                    Some(WriteOutcome::Rejected("one bad record".into())),
                    Some(WriteOutcome::Accepted),
                    Some(WriteOutcome::Rejected("one bad record".into())),
                ],
                expect: (8, 4, 0, 0),
                writes: vec![(10, 12), (10, 4), (14, 4), (18, 4)],
            },
            Row {
                name: "refused whole: only the refused record is dead-lettered, nothing is sent again",
                script: vec![Some(WriteOutcome::Refused {
                    handled: 12,
                    refused: vec![(5..6, "no".into())],
                    retry_reason: String::new(),
                })],
                expect: (11, 1, 0, 0),
                writes: vec![(10, 12)],
            },
            Row {
                name: "partial: the accepted front counts, the rest goes back split at the batch edges",
                script: vec![Some(partial(6))],
                expect: (12, 0, 0, 0),
                writes: vec![(10, 12), (16, 2), (18, 4)],
            },
        ];
        for mut row in rows {
            let dir = tempfile::tempdir().unwrap();
            let script = std::mem::take(&mut row.script);
            let (mut worker, shared, seen) = scripted_worker(dir.path(), script);
            worker.deliver_merged(parts(&records));
            let stats = check(&row, &shared, &seen);
            // Every batch is either delivered or (the poisoned one)
            // dead-lettered whole; a refused record leaves its batch counted.
            let dead_batches = stats.dead_lettered / 4;
            assert_eq!(stats.batches + dead_batches, 3, "{}", row.name);
        }
    }
}
