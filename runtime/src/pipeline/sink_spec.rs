//! How one sink is attached to a pipeline built in code: the sink and its
//! lane settings.

use std::sync::Arc;

use super::{DiskBufferOptions, SinkSettings};
use crate::routing::Condition;
use crate::sink::Sink;

/// How one sink is attached to the pipeline: the sink plus its queue and
/// retry settings.
pub struct SinkSpec {
    /// Unique name, used in counters, logs and the dead-letter file name.
    pub name: String,
    /// The sink itself, native or wasm.
    pub sink: Box<dyn Sink>,
    /// Its queue, retry, dead-letter, `when` and buffer settings.
    pub settings: SinkSettings,
}

impl SinkSpec {
    /// A sink with the default queue (64 batches, `block`), retry policy and
    /// dead-letter cap.
    pub fn new(name: impl Into<String>, sink: impl Sink + 'static) -> Self {
        Self::boxed(name, Box::new(sink))
    }

    /// Like [`SinkSpec::new`], for a sink already boxed.
    pub fn boxed(name: impl Into<String>, sink: Box<dyn Sink>) -> Self {
        Self::with_settings(name, sink, SinkSettings::default())
    }

    /// A sink with the given settings.
    pub fn with_settings(
        name: impl Into<String>,
        sink: Box<dyn Sink>,
        settings: SinkSettings,
    ) -> Self {
        Self {
            name: name.into(),
            sink,
            settings,
        }
    }

    /// Sets the retry, back-off and restart limits.
    pub fn retry(mut self, retry: super::RetryPolicy) -> Self {
        self.settings.retry = retry;
        self
    }

    /// Sets how many batches the queue holds.
    pub fn queue_capacity(mut self, batches: usize) -> Self {
        self.settings.queue_capacity = batches;
        self
    }

    /// Sets what a full queue does.
    pub fn overflow(mut self, overflow: super::OverflowPolicy) -> Self {
        self.settings.overflow = overflow;
        self
    }

    /// Runs the pipeline without the sink if its first `start` fails,
    /// retrying `start` with back-off.
    pub fn optional(mut self, optional: bool) -> Self {
        self.settings.optional = optional;
        self
    }

    /// Puts a disk buffer in front of the sink, under
    /// `<data_dir>/buffer/<name>/`.
    pub fn disk_buffer(mut self, options: DiskBufferOptions) -> Self {
        self.settings.buffer = Some(options);
        self
    }

    /// Sends the sink only the records `when` keeps.
    pub fn when(mut self, when: Condition) -> Self {
        self.settings.when = Some(Arc::new(when));
        self
    }
}
