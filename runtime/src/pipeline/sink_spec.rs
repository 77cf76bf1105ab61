//! How one sink is attached to a pipeline built in code: the sink and its
//! lane settings.

use std::sync::Arc;

use super::{DiskBufferOptions, LaneSettings, OverflowPolicy, RetryPolicy};
use crate::routing::Condition;
use crate::sink::Sink;

/// Default number of batches a sink's queue holds.
pub const DEFAULT_QUEUE_CAPACITY: usize = 64;

/// How one sink is attached to the pipeline: the sink plus its queue and
/// retry settings.
pub struct SinkSpec {
    /// Unique name, used in counters, logs and the dead-letter file name.
    pub name: String,
    /// The sink itself, native or wasm.
    pub sink: Box<dyn Sink>,
    /// Batches the sink's queue holds before the overflow policy applies.
    pub queue_capacity: usize,
    /// What happens when the queue is full.
    pub overflow: OverflowPolicy,
    /// Retry, back-off and restart limits.
    pub retry: RetryPolicy,
    /// Cap on the sink's dead-letter files together (default 256 MiB).
    pub dead_letter_max_bytes: u64,
    /// Run without the sink if its first `start` fails, retrying it with
    /// back-off (default `false`: the pipeline refuses to build).
    pub optional: bool,
    /// Batches after a module reload within which a fault (trap, deadline,
    /// memory, `fatal`) swaps the previous module back (default 3; 0: off).
    pub rollback_batches: u32,
    /// Only records this condition keeps reach the sink (default: every
    /// record). The sink numbers the records it takes itself, from 0.
    pub when: Option<Arc<Condition>>,
    /// A disk buffer in front of the sink (default: none, the memory queue
    /// only): batches survive outages, restarts and crashes.
    pub buffer: Option<DiskBufferOptions>,
}

impl SinkSpec {
    /// A sink with the default queue (64 batches, `block`), retry policy and
    /// dead-letter cap.
    pub fn new(name: impl Into<String>, sink: impl Sink + 'static) -> Self {
        Self::boxed(name, Box::new(sink))
    }

    /// Like [`SinkSpec::new`], for a sink already boxed.
    pub fn boxed(name: impl Into<String>, sink: Box<dyn Sink>) -> Self {
        Self::with_lane(name, sink, LaneSettings::default())
    }

    /// A sink with the given queue, retry and fault settings.
    pub(crate) fn with_lane(
        name: impl Into<String>,
        sink: Box<dyn Sink>,
        lane: LaneSettings,
    ) -> Self {
        Self {
            name: name.into(),
            sink,
            queue_capacity: lane.queue_capacity,
            overflow: lane.overflow,
            retry: lane.retry,
            dead_letter_max_bytes: lane.dead_letter_max_bytes,
            optional: lane.optional,
            rollback_batches: lane.rollback_batches,
            when: lane.when,
            buffer: lane.buffer,
        }
    }

    /// Puts a disk buffer in front of the sink, under
    /// `<data_dir>/buffer/<name>/`.
    pub fn disk_buffer(mut self, options: DiskBufferOptions) -> Self {
        self.buffer = Some(options);
        self
    }

    /// Sends the sink only the records `when` keeps.
    pub fn when(mut self, when: Condition) -> Self {
        self.when = Some(Arc::new(when));
        self
    }

    pub(super) fn lane_settings(&self) -> LaneSettings {
        LaneSettings {
            queue_capacity: self.queue_capacity,
            overflow: self.overflow,
            retry: self.retry.clone(),
            dead_letter_max_bytes: self.dead_letter_max_bytes,
            optional: self.optional,
            rollback_batches: self.rollback_batches,
            when: self.when.clone(),
            sequence: None,
            buffer: self.buffer.clone(),
        }
    }
}
