//! The open batches `emit` appends to: one per shard, so producer threads
//! do not queue on one lock.
//!
//! Each thread keeps to one shard (picked round-robin the first time it
//! emits), so its events stay in the order it emitted them. A batch gets its
//! sequence numbers when it closes, under the dispatch turn: every batch is
//! a contiguous, pipeline-unique range, and sinks receive batches in
//! sequence order.

use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::batcher::OpenBatch;

/// Per-thread shard slots, handed out round-robin.
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SLOT: usize = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
}

/// A shard on a cache line of its own, so two producers' locks do not
/// share one.
#[repr(align(128))]
pub(crate) struct Shard(pub Mutex<OpenBatch>);

pub(crate) struct OpenBatches {
    shards: Box<[Shard]>,
}

impl OpenBatches {
    /// Two shards per core (at least 4, at most 64), so a few more producer
    /// threads than cores still rarely share one.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_shards((cores * 2).clamp(4, 64))
    }

    pub fn with_shards(count: usize) -> Self {
        Self {
            shards: (0..count.max(1))
                .map(|_| Shard(Mutex::new(OpenBatch::new())))
                .collect(),
        }
    }

    /// The shard the calling thread appends to.
    pub fn for_this_thread(&self) -> &Mutex<OpenBatch> {
        let slot = SLOT.with(|slot| *slot);
        &self.shards[slot % self.shards.len()].0
    }

    /// Every shard, in a fixed order (lock several in this order only).
    pub fn iter(&self) -> impl Iterator<Item = &Mutex<OpenBatch>> {
        self.shards.iter().map(|shard| &shard.0)
    }
}
