//! The settings every sink has, whatever its type: how its queue holds,
//! how it retries, where what it cannot deliver goes, which records it
//! takes and whether it buffers on disk. Declared once: a configuration
//! (`SinkConfig`), a sink built in code (`SinkSpec`) and a composite's
//! target each hold one, a lane is spawned with it and a reload compares
//! it whole.

use std::sync::Arc;

use super::dead_letter::DEFAULT_DEAD_LETTER_MAX_BYTES;
use super::{DiskBufferOptions, OverflowPolicy, RetryPolicy};
use crate::routing::Condition;

/// Default number of batches a sink's queue holds.
pub const DEFAULT_QUEUE_CAPACITY: usize = 64;

/// How a sink's lane queues, retries, keeps what it cannot deliver, and
/// which records it takes. The options every sink accepts
/// (`queue_capacity`, `overflow`, the retry options, `dead_letter_max_bytes`,
/// `optional`, `rollback_batches`, `when`, `buffer`).
#[derive(Clone, Debug)]
pub struct SinkSettings {
    /// Batches the sink's queue holds before `overflow` applies (64).
    pub queue_capacity: usize,
    /// What a full queue does (`block`).
    pub overflow: OverflowPolicy,
    /// Retry, back-off and restart limits.
    pub retry: RetryPolicy,
    /// Cap on the sink's dead-letter files together (256 MiB).
    pub dead_letter_max_bytes: u64,
    /// Run without the sink if its first `start` fails, retrying it with
    /// back-off (default `false`: the pipeline refuses to build).
    pub optional: bool,
    /// Batches after a module reload within which a fault (trap, deadline,
    /// memory, `fatal`) swaps the previous module back (3; 0: off).
    pub rollback_batches: u32,
    /// Only records this condition keeps reach the sink (default: every
    /// record); the sink numbers the records it takes itself.
    pub when: Option<Arc<Condition>>,
    /// A disk buffer in front of the sink (default: none, the memory queue
    /// only): batches survive outages, restarts and crashes.
    pub buffer: Option<DiskBufferOptions>,
}

impl Default for SinkSettings {
    fn default() -> Self {
        Self {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            overflow: OverflowPolicy::default(),
            retry: RetryPolicy::default(),
            dead_letter_max_bytes: DEFAULT_DEAD_LETTER_MAX_BYTES,
            optional: false,
            rollback_batches: 3,
            when: None,
            buffer: None,
        }
    }
}

impl SinkSettings {
    /// Whether `other` is the same in everything but `when` (a change of
    /// `when` alone needs no new instance: the pipeline applies it).
    pub fn same_apart_from_when(&self, other: &SinkSettings) -> bool {
        self.queue_capacity == other.queue_capacity
            && self.overflow == other.overflow
            && self.retry == other.retry
            && self.dead_letter_max_bytes == other.dead_letter_max_bytes
            && self.optional == other.optional
            && self.rollback_batches == other.rollback_batches
            && self.buffer == other.buffer
    }

    /// Whether `other` has the same `when` (compared as written).
    pub fn same_when(&self, other: &SinkSettings) -> bool {
        self.when.as_ref().map(|w| w.text()) == other.when.as_ref().map(|w| w.text())
    }
}
