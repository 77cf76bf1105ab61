//! The bounded queue in front of each sink, with its overflow policy.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::Deserialize;

use super::control::{FlushTicket, SwapRequest};
use crate::routing::RoutedBatch;

/// What a sink's queue does when it is full and another batch arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowPolicy {
    /// Wait until the sink makes room (back-pressure on `emit`). The default,
    /// as in Vector: nothing is lost, but a stuck sink slows the producer.
    #[default]
    Block,
    /// Drop the batch that just arrived and count its records as dropped.
    DropNewest,
    /// Drop the oldest queued batch to make room and count its records.
    DropOldest,
}

pub(crate) enum QueueItem {
    Batch(Arc<RoutedBatch>),
    /// A batch a disk-buffered lane already took (and numbered), with
    /// where it is in the buffer (`None`: the buffer could not take it).
    Buffered(Box<BufferedBatch>),
    Flush(Arc<FlushTicket>),
    /// Replace the sink at the next batch boundary (hot reload).
    Swap(Box<SwapRequest>),
    Stop,
}

/// A batch of a disk-buffered lane, for its worker.
pub(crate) struct BufferedBatch {
    /// The records; `None` for a frame found damaged when read back,
    /// which is only acknowledged, in its turn.
    pub batch: Option<crate::batch::Batch>,
    /// The sequence number to record as delivered once it is done.
    pub through: u64,
    /// Whether it is in the buffer's files (a shutdown's deadline leaves
    /// it there); `false` for a batch the buffer could not take.
    pub on_disk: bool,
    /// When it was written to the buffer (for `max_age`).
    pub written: Option<std::time::SystemTime>,
}

/// A bounded FIFO of batches plus control items. Control items (flush, stop)
/// are never dropped and never wait for room, so a flush cannot deadlock
/// behind a full queue.
pub(crate) struct SinkQueue {
    state: Mutex<QueueState>,
    not_empty: Condvar,
    not_full: Condvar,
}

struct QueueState {
    items: VecDeque<QueueItem>,
    batches: usize,
    capacity: usize,
    policy: OverflowPolicy,
}

/// What `push_batch` did with the batch.
pub(crate) enum PushResult {
    Queued,
    /// The policy dropped this batch (the new one or an old one).
    Dropped(Arc<RoutedBatch>),
}

impl SinkQueue {
    pub fn new(capacity: usize, policy: OverflowPolicy) -> Self {
        Self {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                batches: 0,
                capacity: capacity.max(1),
                policy,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        }
    }

    pub fn push_batch(&self, batch: Arc<RoutedBatch>) -> PushResult {
        let mut state = self.state.lock().unwrap();
        let mut result = PushResult::Queued;
        if state.batches >= state.capacity {
            match state.policy {
                OverflowPolicy::Block => {
                    state = self
                        .not_full
                        .wait_while(state, |s| s.batches >= s.capacity)
                        .unwrap();
                }
                OverflowPolicy::DropNewest => return PushResult::Dropped(batch),
                OverflowPolicy::DropOldest => {
                    let oldest = state
                        .items
                        .iter()
                        .position(|item| matches!(item, QueueItem::Batch(_)));
                    if let Some(QueueItem::Batch(old)) = oldest.and_then(|i| state.items.remove(i))
                    {
                        state.batches -= 1;
                        result = PushResult::Dropped(old);
                    }
                }
            }
        }
        state.items.push_back(QueueItem::Batch(batch));
        state.batches += 1;
        drop(state);
        self.not_empty.notify_one();
        result
    }

    /// The batch at the front, if the front holds one (never waits; a
    /// control item at the front stays there).
    pub fn pop_front_batch(&self) -> Option<Arc<RoutedBatch>> {
        let mut state = self.state.lock().unwrap();
        if !matches!(state.items.front(), Some(QueueItem::Batch(_))) {
            return None;
        }
        let Some(QueueItem::Batch(batch)) = state.items.pop_front() else {
            return None;
        };
        state.batches -= 1;
        drop(state);
        self.not_full.notify_one();
        Some(batch)
    }

    /// Queues a batch past the capacity (flush and shutdown must not wait
    /// behind a full queue, and must not drop).
    pub fn push_batch_over_capacity(&self, batch: Arc<RoutedBatch>) {
        let mut state = self.state.lock().unwrap();
        state.items.push_back(QueueItem::Batch(batch));
        state.batches += 1;
        drop(state);
        self.not_empty.notify_one();
    }

    /// Queues a batch item past the capacity (a disk buffer's spooler
    /// checks [`Self::is_full`] itself).
    pub fn push_batch_over_capacity_item(&self, item: QueueItem) {
        let mut state = self.state.lock().unwrap();
        state.items.push_back(item);
        state.batches += 1;
        drop(state);
        self.not_empty.notify_one();
    }

    /// Takes the front item if it is a swap (queued ahead of everything),
    /// for a disk buffer's spooler waiting for room.
    pub fn take_front_swap(&self) -> Option<QueueItem> {
        let mut state = self.state.lock().unwrap();
        if matches!(state.items.front(), Some(QueueItem::Swap(_))) {
            state.items.pop_front()
        } else {
            None
        }
    }

    /// Queues a flush ticket or the stop marker; never waits, never drops.
    pub fn push_control(&self, item: QueueItem) {
        debug_assert!(!matches!(
            item,
            QueueItem::Batch(_) | QueueItem::Buffered(_)
        ));
        self.state.lock().unwrap().items.push_back(item);
        self.not_empty.notify_one();
    }

    /// Queues a control item ahead of everything queued (a hot swap: the
    /// batches already queued go to the new instance).
    pub fn push_front_control(&self, item: QueueItem) {
        debug_assert!(!matches!(item, QueueItem::Batch(_)));
        self.state.lock().unwrap().items.push_front(item);
        self.not_empty.notify_one();
    }

    /// Changes the capacity and overflow policy (a configuration reload).
    pub fn set_limits(&self, capacity: usize, policy: OverflowPolicy) {
        let mut state = self.state.lock().unwrap();
        state.capacity = capacity.max(1);
        state.policy = policy;
        drop(state);
        self.not_full.notify_all();
    }

    /// Removes the capacity: producers waiting for room go through.
    pub fn lift_capacity(&self) {
        self.state.lock().unwrap().capacity = usize::MAX;
        self.not_full.notify_all();
    }

    /// Whether a `block` producer would wait now.
    pub fn is_full(&self) -> bool {
        let state = self.state.lock().unwrap();
        state.batches >= state.capacity
    }

    /// Whether a batch pushed now would wait for room (full, under `block`).
    pub fn would_block(&self) -> bool {
        let state = self.state.lock().unwrap();
        state.batches >= state.capacity && state.policy == OverflowPolicy::Block
    }

    /// Waits up to `timeout` for the next item.
    pub fn pop(&self, timeout: Duration) -> Option<QueueItem> {
        let state = self.state.lock().unwrap();
        let (mut state, _) = self
            .not_empty
            .wait_timeout_while(state, timeout, |s| s.items.is_empty())
            .unwrap();
        let item = state.items.pop_front()?;
        if matches!(item, QueueItem::Batch(_) | QueueItem::Buffered(_)) {
            state.batches -= 1;
            drop(state);
            self.not_full.notify_one();
        }
        Some(item)
    }

    pub fn depth(&self) -> usize {
        self.state.lock().unwrap().batches
    }
}
