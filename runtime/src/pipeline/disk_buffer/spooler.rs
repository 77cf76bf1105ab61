//! The thread between a disk-buffered sink's queue and its worker: it
//! takes each batch the sink is to get, appends it to the buffer, and
//! feeds the worker from the buffer in order, a few batches at a time. A
//! slow or dead sink therefore holds up nothing but its own buffer: the
//! producers' queue keeps draining until the buffer is full, and then
//! `when_full` applies.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::thread::JoinHandle;
use std::time::Duration;

use super::options::WhenFull;
use super::store::{DiskBuffer, FrameRef};
use crate::batch::Batch;
use crate::pipeline::counters::SinkCounters;
use crate::pipeline::queue::{BufferedBatch, QueueItem, SinkQueue};
use crate::pipeline::worker::{WorkerShared, take_for_lane};

/// What a disk-buffered lane adds: the buffer, and the worker's own short
/// queue the spooler fills.
pub(crate) struct BufferedLane {
    pub buffer: Arc<DiskBuffer>,
    pub queue: SinkQueue,
}

/// Batches the worker's queue holds, read ahead from the buffer.
pub(crate) const READ_AHEAD: usize = 4;

enum Pending {
    /// A buffered batch, kept in memory when it went straight through.
    Frame(FrameRef, Option<Batch>),
    /// A batch the buffer could not take (an I/O error): delivered from
    /// memory, as without a buffer.
    Unbuffered(Batch),
    Control(QueueItem),
}

struct Spooler {
    shared: Arc<WorkerShared>,
    lane: Arc<BufferedLane>,
    numbering: Arc<AtomicU64>,
    pending: VecDeque<Pending>,
    stopping: bool,
    write_failing: bool,
}

/// Starts the spooler of a lane; `recovered` are the undelivered frames
/// found at open, delivered first.
pub(crate) fn spawn(
    shared: Arc<WorkerShared>,
    lane: Arc<BufferedLane>,
    recovered: Vec<FrameRef>,
    numbering: Arc<AtomicU64>,
) -> Result<JoinHandle<()>, String> {
    let name = shared.name.clone();
    let spooler = Spooler {
        shared,
        lane,
        numbering,
        pending: recovered
            .into_iter()
            .map(|f| Pending::Frame(f, None))
            .collect(),
        stopping: false,
        write_failing: false,
    };
    std::thread::Builder::new()
        .name(format!("sinkbox-buffer-{name}"))
        .spawn(move || spooler.run())
        .map_err(|e| format!("could not spawn the buffer thread: {e}"))
}

impl Spooler {
    fn run(mut self) {
        loop {
            self.forward();
            if self.stopping && self.pending.is_empty() {
                return;
            }
            let wait = if self.pending.is_empty() {
                Duration::from_millis(200)
            } else {
                Duration::from_millis(10)
            };
            match self.shared.queue.pop(wait) {
                None => self.lane.buffer.sync_if_due(),
                Some(QueueItem::Batch(routed)) => {
                    if let Some(batch) = take_for_lane(&self.shared, &self.numbering, &routed, true)
                    {
                        self.spool(batch);
                    }
                }
                // A reload goes ahead of what is buffered: it may be what
                // makes the sink deliver again.
                Some(QueueItem::Swap(request)) => {
                    self.lane.queue.push_front_control(QueueItem::Swap(request))
                }
                Some(QueueItem::Stop) => {
                    self.lane.buffer.sync_if_due();
                    self.stopping = true;
                    self.pending.push_back(Pending::Control(QueueItem::Stop));
                }
                Some(item) => self.pending.push_back(Pending::Control(item)),
            }
        }
    }

    /// Hands pending items to the worker, in order, while its queue has
    /// room. After a shutdown's deadline, buffered batches stay on disk
    /// for the next start.
    fn forward(&mut self) {
        while let Some(front) = self.pending.front_mut() {
            match front {
                Pending::Control(_) => {}
                Pending::Frame(..)
                    if self
                        .shared
                        .abandon
                        .load(std::sync::atomic::Ordering::Acquire) =>
                {
                    self.pending.pop_front();
                    continue;
                }
                Pending::Frame(..) | Pending::Unbuffered(_) if self.lane.queue.is_full() => return,
                Pending::Frame(frame, batch) => {
                    let batch = match batch.take() {
                        Some(batch) => Ok(batch),
                        None => self.lane.buffer.read(frame),
                    };
                    let frame = *frame;
                    self.pending.pop_front();
                    match batch {
                        Ok(batch) => {
                            self.lane
                                .queue
                                .push_batch_over_capacity_item(QueueItem::Buffered(Box::new(
                                    BufferedBatch {
                                        batch,
                                        frame: Some(frame),
                                    },
                                )));
                        }
                        Err(err) => {
                            tracing::warn!(sink = %self.shared.name, "{err}; its {} records are skipped", frame.header.count);
                            self.lane
                                .buffer
                                .count_corrupt(u64::from(frame.header.count));
                            self.lane.buffer.ack(&frame);
                        }
                    }
                    continue;
                }
                Pending::Unbuffered(_) => {}
            }
            match self.pending.pop_front() {
                Some(Pending::Control(item)) => self.lane.queue.push_control(item),
                Some(Pending::Unbuffered(batch)) => {
                    self.lane
                        .queue
                        .push_batch_over_capacity_item(QueueItem::Buffered(Box::new(
                            BufferedBatch { batch, frame: None },
                        )))
                }
                _ => {}
            }
        }
    }

    /// Appends one batch, waiting for room or dropping it as `when_full`
    /// says.
    fn spool(&mut self, batch: Batch) {
        let payload = batch.bytes().len();
        while !self.lane.buffer.has_room(payload) {
            match self.lane.buffer.options().when_full {
                WhenFull::DropNewest => {
                    self.lane.buffer.count_dropped(u64::from(batch.len()));
                    SinkCounters::add(&self.shared.counters.dropped, u64::from(batch.len()));
                    return;
                }
                WhenFull::Block => {
                    self.forward();
                    if self
                        .shared
                        .abandon
                        .load(std::sync::atomic::Ordering::Acquire)
                    {
                        break;
                    }
                    self.lane
                        .buffer
                        .wait_for_room(payload, Duration::from_millis(50));
                }
            }
        }
        match self.lane.buffer.append(&batch) {
            Ok(frame) => {
                self.write_failing = false;
                let straight = self.pending.is_empty() && !self.lane.queue.is_full();
                self.pending
                    .push_back(Pending::Frame(frame, straight.then_some(batch)));
            }
            Err(err) => {
                if !std::mem::replace(&mut self.write_failing, true) {
                    tracing::error!(
                        sink = %self.shared.name,
                        "the disk buffer cannot take a batch ({err}); batches go to the sink from memory until it can"
                    );
                }
                self.pending.push_back(Pending::Unbuffered(batch));
            }
        }
    }
}
