//! How a lane queues, retries, keeps what it cannot deliver, and which
//! records it takes: the settings a lane is spawned with and a reload swaps.

use std::sync::Arc;

use super::dead_letter::DEFAULT_DEAD_LETTER_MAX_BYTES;
use super::{DEFAULT_QUEUE_CAPACITY, OverflowPolicy, RetryPolicy};

/// How a lane queues, retries and keeps what it cannot deliver.
#[derive(Clone, Debug)]
pub(crate) struct LaneSettings {
    pub queue_capacity: usize,
    pub overflow: OverflowPolicy,
    pub retry: RetryPolicy,
    pub dead_letter_max_bytes: u64,
    pub optional: bool,
    pub rollback_batches: u32,
    /// The lane's `when`: its dispatcher's routing table holds it, and the
    /// lane takes only what it keeps.
    pub when: Option<Arc<crate::routing::Condition>>,
    /// Where the numbers of the records the lane renumbers come from: a
    /// composite's target shares one counter per sink, kept across
    /// reloads, so a rebuilt lane never repeats a number. `None`: a counter
    /// of the lane's own.
    pub sequence: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// A disk buffer in front of the sink (`buffer = { type = "disk" }`).
    pub buffer: Option<super::disk_buffer::DiskBufferOptions>,
}

impl Default for LaneSettings {
    fn default() -> Self {
        Self {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            overflow: OverflowPolicy::default(),
            retry: RetryPolicy::default(),
            dead_letter_max_bytes: DEFAULT_DEAD_LETTER_MAX_BYTES,
            optional: false,
            rollback_batches: 3,
            when: None,
            sequence: None,
            buffer: None,
        }
    }
}
