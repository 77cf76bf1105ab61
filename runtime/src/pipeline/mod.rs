//! The pipeline: serialize each event once, batch, fan out to every sink's
//! own queue and worker.
//!
//! Where a record goes next, file by file: [`handle`] (`emit` into the open
//! batch, which [`batcher`] and [`open_batches`] keep, closed by size or by
//! [`batch_timer`]) → `dispatch` to every [`lane`]'s [`queue`] → the
//! lane's [`worker`] (or, first, its [`disk_buffer`]) → the sink; what the
//! sink cannot take goes to its [`dead_letter`] store. [`builder`] and
//! [`sink_spec`] put a pipeline together in code, [`shutdown`] takes it
//! apart, [`reports`] holds what they answer.

mod batch_timer;
mod batcher;
mod builder;
mod control;
mod counters;
mod dead_letter;
mod disk_buffer;
mod handle;
mod lane;
mod open_batches;
mod outage;
pub mod prometheus;
mod queue;
mod reports;
mod retry_policy;
mod shutdown;
mod sink_parts;
mod sink_settings;
mod sink_spec;
mod worker;

pub use batcher::BatchOptions;
pub use builder::{DEFAULT_DATA_DIR, DEFAULT_FLUSH_INTERVAL, PipelineBuilder};
pub use counters::{OutcomeErrors, SinkStats};
pub(crate) use dead_letter::DeadLetterStore;
pub use dead_letter::{
    DEFAULT_DEAD_LETTER_MAX_BYTES, DeadLetter, DeadLetterBatch, read_dead_letter_batches,
    read_dead_letters,
};
pub(crate) use dead_letter::{encode as encode_dead_letter, lock_for_replay};
pub use disk_buffer::{BufferStats, DiskBufferOptions, MaxAgeAction, SyncPolicy, WhenFull};
pub use handle::Pipeline;
pub use queue::OverflowPolicy;
pub use reports::{EmitError, FlushReport, PipelineError};
pub use retry_policy::{DEFAULT_MAX_RETRY_DURATION, RetryPolicy};
pub use shutdown::ShutdownReport;
pub use sink_settings::{DEFAULT_QUEUE_CAPACITY, SinkSettings};
pub use sink_spec::SinkSpec;

pub(crate) use lane::SinkLane;
pub(crate) use sink_parts::sink_parts;
pub(crate) use worker::outcome_plan;
