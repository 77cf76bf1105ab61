//! A sink's disk buffer: batches written to segment files before the sink
//! sees them, delivered from there, reclaimed once the sink's outcome says
//! they are done, and found again after a restart or a crash.

pub(crate) mod buffered_lane;
pub(crate) mod frame;
pub(crate) mod options;
pub(crate) mod spooler;
pub(crate) mod store;

pub use options::{DiskBufferOptions, MaxAgeAction, SyncPolicy, WhenFull};
pub use store::BufferStats;
