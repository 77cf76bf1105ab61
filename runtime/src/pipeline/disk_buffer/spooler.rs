//! The thread between a disk-buffered sink's queue and its worker: it
//! takes each batch the sink is to get, appends it to the buffer, and
//! feeds the worker from the buffer in order, a few batches at a time. A
//! slow or dead sink therefore holds up nothing but its own buffer: the
//! producers' queue keeps draining until the buffer is full, and then
//! `when_full` applies.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::acknowledgement::AckReport;
use std::sync::atomic::AtomicU64;
use std::thread::JoinHandle;
use std::time::Duration;

use super::buffered_lane::BufferedLane;
use super::options::WhenFull;
use super::store::{FrameRef, ReadError};
use crate::batch::Batch;
use crate::pipeline::counters::SinkCounters;
use crate::pipeline::queue::{BufferedBatch, QueueItem};
use crate::pipeline::worker::{WorkerShared, take_for_lane};

/// Batches held in memory while the disk refuses writes, before the
/// spooler stops taking more.
const MAX_UNBUFFERED: usize = 16;

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
    read_failing: bool,
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
        read_failing: false,
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
            if self.write_failing && self.pending.len() >= MAX_UNBUFFERED {
                // The disk refuses batches and the sink is behind: take no
                // more (back-pressure), rather than hold them in memory.
                std::thread::sleep(wait);
                continue;
            }
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
        let abandoned = self
            .shared
            .abandon
            .load(std::sync::atomic::Ordering::Acquire);
        while let Some(front) = self.pending.pop_front() {
            let item = match front {
                Pending::Control(item) => {
                    self.lane.queue.push_control(item);
                    continue;
                }
                Pending::Frame(..) if abandoned => continue,
                front if self.lane.queue.is_full() => {
                    self.pending.push_front(front);
                    return;
                }
                Pending::Frame(frame, batch) => {
                    let through = frame.header.last_sequence();
                    let read = match batch {
                        Some(batch) => Ok(batch),
                        None => self.lane.buffer.read(&frame),
                    };
                    match read {
                        Ok(batch) => BufferedBatch {
                            batch: Some(batch),
                            through,
                            on_disk: true,
                            written: Some(
                                std::time::UNIX_EPOCH
                                    + Duration::from_millis(frame.header.written_ms),
                            ),
                        },
                        Err(ReadError::Damaged(why)) => {
                            tracing::warn!(
                                sink = %self.shared.name,
                                "{why}; its {} records are skipped",
                                frame.header.count
                            );
                            self.lane
                                .buffer
                                .count_corrupt(u64::from(frame.header.count));
                            // Acknowledged in its turn, after the batches
                            // before it are delivered.
                            BufferedBatch {
                                batch: None,
                                through,
                                on_disk: true,
                                written: None,
                            }
                        }
                        Err(ReadError::Io(why)) => {
                            if !std::mem::replace(&mut self.read_failing, true) {
                                tracing::error!(sink = %self.shared.name, "{why}; retrying");
                            }
                            self.pending.push_front(Pending::Frame(frame, None));
                            return;
                        }
                    }
                }
                Pending::Unbuffered(batch) => BufferedBatch {
                    through: batch.first_sequence() + u64::from(batch.len().max(1)) - 1,
                    batch: Some(batch),
                    on_disk: false,
                    written: None,
                },
            };
            self.read_failing = false;
            self.lane
                .queue
                .push_batch_over_capacity_item(QueueItem::Buffered(Box::new(item)));
        }
    }

    /// Appends one batch, waiting for room or dropping it as `when_full`
    /// says.
    fn spool(&mut self, batch: Batch) {
        let payload = batch.bytes().len();
        while !self.lane.buffer.has_room(payload) {
            match self.lane.buffer.options().when_full {
                WhenFull::DropNewest => {
                    // Give its numbers back, so dropping leaves no gap that
                    // would read as damage after a restart.
                    let first = batch.first_sequence();
                    let _ = self.numbering.compare_exchange(
                        first + u64::from(batch.len()),
                        first,
                        std::sync::atomic::Ordering::AcqRel,
                        std::sync::atomic::Ordering::Acquire,
                    );
                    self.lane.buffer.count_dropped(u64::from(batch.len()));
                    SinkCounters::add(&self.shared.counters.dropped, u64::from(batch.len()));
                    if let Some(ack) = batch.ack() {
                        ack.release(AckReport {
                            dropped: u64::from(batch.len()),
                            ..AckReport::default()
                        });
                    }
                    return;
                }
                WhenFull::Block => {
                    // A reload must not wait for room: it may be the fix.
                    if let Some(swap) = self.shared.queue.take_front_swap() {
                        self.lane.queue.push_front_control(swap);
                    }
                    self.lane.buffer.sync_if_due();
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
                // Acknowledged records are safe once synced: settled here,
                // so the worker delivering them later reports nothing.
                let batch = match batch.ack() {
                    Some(ack) => {
                        let synced = self.lane.buffer.sync_now();
                        if let Err(err) = &synced {
                            tracing::error!(sink = %self.shared.name, "the disk buffer could not sync: {err}");
                        }
                        ack.release(AckReport {
                            lost: if synced.is_ok() {
                                0
                            } else {
                                u64::from(batch.len())
                            },
                            ..AckReport::default()
                        });
                        batch.without_ack()
                    }
                    None => batch,
                };
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
