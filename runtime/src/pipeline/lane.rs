//! A sink with its own bounded queue and worker thread. The pipeline gives
//! every top-level sink a lane; a fanout composite gives each target one.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::SinkSettings;
use super::control::{FlushTicket, SwapRequest, SwapTicket};
use super::counters::{ModuleState, SinkCounters};
use super::dead_letter::DeadLetterStore;
use super::queue::{PushResult, QueueItem, SinkQueue};
use super::sink_parts::sink_parts;
use super::worker::{FaultPolicy, SinkWorker, WorkerShared};
use super::{OverflowPolicy, SinkStats};
use crate::acknowledgement::AckReport;
use crate::routing::{RoutedBatch, Selection};
use crate::sink::{Health, Sink};
use crate::wasm::SinkReloader;

/// A running sink behind its queue.
pub(crate) struct SinkLane {
    shared: Arc<WorkerShared>,
    handle: Mutex<Option<JoinHandle<()>>>,
    /// The disk buffer's spooler, for a disk-buffered lane.
    spooler: Mutex<Option<JoinHandle<()>>>,
    /// Held while a reload runs, so reloads of one sink take turns.
    reload_turn: Mutex<()>,
}

/// How long a reload waits for the worker to reach a batch boundary.
const SWAP_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

impl SinkLane {
    /// Starts `sink` on its own worker; fails if its `start` fails (unless
    /// the sink is optional). Undeliverable batches go to
    /// `<data_dir>/dead-letter/<name>.ndjson`.
    pub fn spawn(
        name: &str,
        sink: Box<dyn Sink>,
        settings: &SinkSettings,
        sequence: Option<Arc<std::sync::atomic::AtomicU64>>,
        data_dir: &Path,
    ) -> Result<SinkLane, String> {
        let parts = sink_parts(&*sink);
        let reloader = parts.reloader;
        let numbering = sequence.unwrap_or_default();
        let (buffer, recovered) = match &settings.buffer {
            Some(options) => {
                let dir = data_dir.join("buffer").join(name);
                let (buffer, recovered) =
                    super::disk_buffer::store::DiskBuffer::open(&dir, options.clone(), name)?;
                // Numbers carry on from what the buffer holds, so a
                // restart never repeats one.
                numbering.fetch_max(recovered.next_sequence, std::sync::atomic::Ordering::AcqRel);
                if !recovered.frames.is_empty() {
                    tracing::info!(
                        sink = name,
                        "the disk buffer holds {} undelivered batches from before; they go first",
                        recovered.frames.len()
                    );
                }
                let lane = Arc::new(super::disk_buffer::buffered_lane::BufferedLane {
                    buffer: Arc::new(buffer),
                    queue: SinkQueue::new(
                        super::disk_buffer::spooler::READ_AHEAD,
                        OverflowPolicy::Block,
                    ),
                });
                (Some(lane), recovered.frames)
            }
            None => (None, Vec::new()),
        };
        let shared = Arc::new(WorkerShared {
            name: name.to_owned(),
            queue: SinkQueue::new(settings.queue_capacity, settings.overflow),
            counters: Default::default(),
            health: Mutex::new(Health::Healthy),
            module: Mutex::new(ModuleState {
                hash: reloader.as_ref().map(|r| r.module_hash().to_owned()),
                last_error: None,
            }),
            log_budget: Mutex::new(parts.log_budget),
            http: Mutex::new(parts.http),
            route: Mutex::new(parts.route),
            reloader: Mutex::new(reloader),
            abandon: Default::default(),
            buffer: buffer.clone(),
            when_checked: Default::default(),
        });
        let dead_letters = DeadLetterStore::new(data_dir, name, settings.dead_letter_max_bytes);
        let faults = FaultPolicy {
            optional: settings.optional,
            rollback_batches: settings.rollback_batches,
        };
        let handle = SinkWorker::new(
            shared.clone(),
            sink,
            settings.retry.clone(),
            faults,
            dead_letters,
        )
        .numbering_from(numbering.clone())
        .spawn()?;
        let spooler = match buffer {
            Some(lane) => Some(super::disk_buffer::spooler::spawn(
                shared.clone(),
                lane,
                recovered,
                numbering,
            )?),
            None => None,
        };
        Ok(SinkLane {
            shared,
            handle: Mutex::new(Some(handle)),
            spooler: Mutex::new(spooler),
            reload_turn: Mutex::new(()),
        })
    }

    /// The lane's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Queues a batch under the overflow policy; `force` ignores capacity
    /// (flush and shutdown must not wait behind a full queue).
    pub fn push(&self, batch: Arc<RoutedBatch>, force: bool) {
        // Acknowledged records: this queue holds the acknowledgement until
        // its worker settles the batch.
        if let Some(ack) = batch.batch().ack() {
            ack.hold();
        }
        if force {
            self.shared.queue.push_batch_over_capacity(batch);
            return;
        }
        if let PushResult::Dropped(dropped) = self.shared.queue.push_batch(batch) {
            // Count what this sink would have taken, not the whole batch.
            let records = match dropped.for_lane(&self.shared.name) {
                Selection::Unfiltered(batch) | Selection::Kept { batch, .. } => batch.len(),
                Selection::Nothing { .. } => 0,
            };
            SinkCounters::add(&self.shared.counters.dropped, u64::from(records));
            if let Some(ack) = dropped.batch().ack() {
                ack.release(AckReport {
                    dropped: u64::from(records),
                    ..AckReport::default()
                });
            }
        }
    }

    /// Asks the worker to flush once everything queued before is delivered.
    pub fn request_flush(&self, deadline: Instant) -> Arc<FlushTicket> {
        let ticket = Arc::new(FlushTicket::new(deadline));
        self.shared
            .queue
            .push_control(QueueItem::Flush(ticket.clone()));
        ticket
    }

    /// Asks the worker to deliver what is queued, flush, stop the sink and
    /// end. [`SinkLane::join`] waits for it.
    pub fn request_stop(&self) {
        self.shared.queue.push_control(QueueItem::Stop);
    }

    /// Waits for the worker to end; `false` if it panicked.
    pub fn join(&self) -> bool {
        let spooler = self.spooler.lock().unwrap().take();
        let spooled = spooler.is_none_or(|handle| handle.join().is_ok());
        let handle = self.handle.lock().unwrap().take();
        handle.is_none_or(|handle| handle.join().is_ok()) && spooled
    }

    /// Waits for the worker to end until `deadline`; `false` if it is still
    /// running then (it is left to finish on its own).
    pub fn join_until(&self, deadline: Instant) -> bool {
        loop {
            if self.is_stopped() {
                if !self.join() {
                    tracing::error!(sink = %self.name(), "a sink worker panicked while stopping");
                }
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// A shutdown's deadline passed: the worker stops delivering and
    /// dead-letters what is left in its queue.
    pub fn abandon(&self) {
        self.shared
            .abandon
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Lets producers blocked on a full queue through (shutdown: nothing new
    /// is accepted, and what was accepted must reach the queue).
    pub fn open_queue(&self) {
        self.shared.queue.lift_capacity();
    }

    /// The last known health; a disk-buffered lane whose oldest
    /// undelivered batch is older than its `max_age` is degraded.
    pub fn health(&self) -> Health {
        let health = self.shared.health.lock().unwrap().clone();
        if let (Health::Healthy, Some(lane)) = (&health, &self.shared.buffer)
            && let Some(max_age) = lane.buffer.options().max_age
        {
            let stats = lane.buffer.stats();
            if stats.oldest_undelivered_ms > max_age.as_millis() as u64 {
                return Health::Degraded(format!(
                    "the oldest of {} undelivered batches in the disk buffer is {:.0?} old (max_age {max_age:?})",
                    stats.batches,
                    std::time::Duration::from_millis(stats.oldest_undelivered_ms)
                ));
            }
        }
        health
    }

    /// The lane's counters.
    pub fn stats(&self) -> SinkStats {
        let guest_log_dropped = self
            .shared
            .log_budget
            .lock()
            .unwrap()
            .as_ref()
            .map_or(0, |budget| budget.dropped());
        let http = self
            .shared
            .http
            .lock()
            .unwrap()
            .as_ref()
            .map(|egress| egress.stats());
        let mut stats = self.shared.counters.snapshot(
            &self.shared.name,
            self.shared.queue.depth() as u64,
            &self.shared.module.lock().unwrap(),
            guest_log_dropped,
            http,
        );
        if let Some(route) = self.shared.route.lock().unwrap().as_ref() {
            stats.routed = route.routed();
            stats.unrouted = route.unrouted();
        }
        if let Some(lane) = &self.shared.buffer {
            stats.queue_depth += lane.queue.depth() as u64;
            stats.buffer = Some(lane.buffer.stats());
        }
        stats
    }

    /// Whether the queue is at capacity (a producer would wait).
    pub fn is_full(&self) -> bool {
        self.shared.queue.is_full()
    }

    /// Whether a batch pushed now would wait for room.
    pub fn would_block(&self) -> bool {
        self.shared.queue.would_block()
    }

    /// Whether the worker has ended (the lane was stopped).
    pub fn is_stopped(&self) -> bool {
        let spooled = self
            .spooler
            .lock()
            .unwrap()
            .as_ref()
            .is_none_or(|h| h.is_finished());
        spooled
            && self
                .handle
                .lock()
                .unwrap()
                .as_ref()
                .is_none_or(|h| h.is_finished())
    }

    /// How to replace the running sink with a new module, if it has one.
    pub fn reloader(&self) -> Option<Arc<dyn SinkReloader>> {
        self.shared.reloader.lock().unwrap().clone()
    }

    /// Taken for the whole of a reload, so reloads of one sink take turns.
    pub fn reload_turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.reload_turn.lock().unwrap()
    }

    /// Hands a started replacement to the worker, ahead of the queued
    /// batches, and waits until it is in place; returns the pause. With
    /// `rollback`, a fault of the new sink on its first batches swaps the
    /// old one back (a module reload).
    pub fn swap(
        &self,
        sink: Box<dyn Sink>,
        settings: Option<SinkSettings>,
        hash: Option<String>,
        rollback: bool,
    ) -> Result<std::time::Duration, String> {
        if self.is_stopped() {
            return Err("the sink is stopped".into());
        }
        let done = Arc::new(SwapTicket::default());
        self.shared
            .queue
            .push_front_control(QueueItem::Swap(Box::new(SwapRequest {
                sink,
                settings,
                hash,
                rollback,
                done: done.clone(),
            })));
        done.wait(SWAP_WAIT).ok_or_else(|| {
            format!(
                "the sink's worker did not reach a batch boundary within {SWAP_WAIT:?}; the new instance takes over when it does"
            )
        })
    }

    /// Records a refused reload.
    pub fn reload_refused(&self, why: &str) {
        SinkCounters::add(&self.shared.counters.reload_failures, 1);
        self.shared.module.lock().unwrap().last_error = Some(why.to_owned());
    }

    /// Changes the queue's capacity and overflow policy.
    pub fn set_queue_limits(&self, capacity: usize, overflow: OverflowPolicy) {
        self.shared.queue.set_limits(capacity, overflow);
    }
}
