//! A sink with its own bounded queue and worker thread. The pipeline gives
//! every top-level sink a lane; a fanout composite gives each target one.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::control::FlushTicket;
use super::counters::SinkCounters;
use super::dead_letter::DeadLetterFile;
use super::queue::{PushResult, QueueItem, SinkQueue};
use super::worker::{SinkWorker, WorkerShared};
use super::{OverflowPolicy, RetryPolicy, SinkStats};
use crate::batch::Batch;
use crate::sink::{Health, Sink};

/// A running sink behind its queue.
pub(crate) struct SinkLane {
    shared: Arc<WorkerShared>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

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
        let shared = Arc::new(WorkerShared {
            name: name.to_owned(),
            queue: SinkQueue::new(queue_capacity, overflow),
            counters: Default::default(),
            health: Mutex::new(Health::Healthy),
        });
        let dead_letters = DeadLetterFile::new(data_dir, name);
        let handle = SinkWorker::new(shared.clone(), sink, retry, dead_letters).spawn()?;
        Ok(SinkLane {
            shared,
            handle: Mutex::new(Some(handle)),
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
        self.shared
            .counters
            .snapshot(&self.shared.name, self.shared.queue.depth() as u64)
    }
}
