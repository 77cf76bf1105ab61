//! A sink with its own bounded queue and worker thread. The pipeline gives
//! every top-level sink a lane; a fanout composite gives each target one.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::control::{FlushTicket, SwapRequest, SwapTicket};
use super::counters::{ModuleState, SinkCounters};
use super::dead_letter::DeadLetterFile;
use super::queue::{PushResult, QueueItem, SinkQueue};
use super::worker::{SinkWorker, WorkerShared};
use super::{OverflowPolicy, RetryPolicy, SinkStats};
use crate::batch::Batch;
use crate::reload::SinkReloader;
use crate::sink::{Health, Sink};

/// A running sink behind its queue.
pub(crate) struct SinkLane {
    shared: Arc<WorkerShared>,
    handle: Mutex<Option<JoinHandle<()>>>,
    /// How to replace the sink with a new module.
    reloader: Mutex<Option<Arc<dyn SinkReloader>>>,
    /// Held while a reload runs, so reloads of one sink take turns.
    reload_turn: Mutex<()>,
}

/// How long a reload waits for the worker to reach a batch boundary.
const SWAP_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

impl SinkLane {
    /// Starts `sink` on its own worker; fails if its `start` fails.
    /// Undeliverable batches go to `<data_dir>/dead-letter/<name>.ndjson`.
    pub fn spawn(
        name: &str,
        sink: Box<dyn Sink>,
        queue_capacity: usize,
        overflow: OverflowPolicy,
        retry: RetryPolicy,
        data_dir: &Path,
    ) -> Result<SinkLane, String> {
        let reloader = sink.reloader();
        let shared = Arc::new(WorkerShared {
            name: name.to_owned(),
            queue: SinkQueue::new(queue_capacity, overflow),
            counters: Default::default(),
            health: Mutex::new(Health::Healthy),
            module: Mutex::new(ModuleState {
                hash: reloader.as_ref().map(|r| r.module_hash().to_owned()),
                last_error: None,
            }),
        });
        let dead_letters = DeadLetterFile::new(data_dir, name);
        let handle = SinkWorker::new(shared.clone(), sink, retry, dead_letters).spawn()?;
        Ok(SinkLane {
            shared,
            handle: Mutex::new(Some(handle)),
            reloader: Mutex::new(reloader),
            reload_turn: Mutex::new(()),
        })
    }

    /// The lane's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Queues a batch under the overflow policy; `force` ignores capacity
    /// (flush and shutdown must not wait behind a full queue).
    pub fn push(&self, batch: Batch, force: bool) {
        if force {
            self.shared.queue.push_batch_over_capacity(batch);
            return;
        }
        if let PushResult::Dropped(records) = self.shared.queue.push_batch(batch) {
            SinkCounters::add(&self.shared.counters.dropped, u64::from(records));
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
        let handle = self.handle.lock().unwrap().take();
        handle.is_none_or(|handle| handle.join().is_ok())
    }

    /// The last known health.
    pub fn health(&self) -> Health {
        self.shared.health.lock().unwrap().clone()
    }

    /// The lane's counters.
    pub fn stats(&self) -> SinkStats {
        self.shared.counters.snapshot(
            &self.shared.name,
            self.shared.queue.depth() as u64,
            &self.shared.module.lock().unwrap(),
        )
    }

    /// Whether the worker has ended (the lane was stopped).
    pub fn is_stopped(&self) -> bool {
        self.handle
            .lock()
            .unwrap()
            .as_ref()
            .is_none_or(|h| h.is_finished())
    }

    /// How to replace the running sink with a new module, if it has one.
    pub fn reloader(&self) -> Option<Arc<dyn SinkReloader>> {
        self.reloader.lock().unwrap().clone()
    }

    /// Taken for the whole of a reload, so reloads of one sink take turns.
    pub fn reload_turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.reload_turn.lock().unwrap()
    }

    /// Hands a started replacement to the worker, ahead of the queued
    /// batches, and waits until it is in place; returns the pause.
    pub fn swap(
        &self,
        sink: Box<dyn Sink>,
        retry: Option<RetryPolicy>,
        hash: Option<String>,
    ) -> Result<std::time::Duration, String> {
        if self.is_stopped() {
            return Err("the sink is stopped".into());
        }
        let new_reloader = sink.reloader();
        let done = Arc::new(SwapTicket::default());
        self.shared
            .queue
            .push_front_control(QueueItem::Swap(Box::new(SwapRequest {
                sink,
                retry,
                done: done.clone(),
            })));
        let pause = done.wait(SWAP_WAIT).ok_or_else(|| {
            format!(
                "the sink's worker did not reach a batch boundary within {SWAP_WAIT:?}; the new instance takes over when it does"
            )
        })?;
        *self.reloader.lock().unwrap() = new_reloader;
        let mut module = self.shared.module.lock().unwrap();
        module.hash = hash;
        module.last_error = None;
        Ok(pause)
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
