//! `mmap`: appends records through a memory-mapped file, and the
//! [`MmapWriter`] building block it is made of.

pub(crate) mod config;
mod prefault;
pub(crate) mod sink;
pub(crate) mod writer;

pub use sink::{MmapSink, MmapSinkOptions};
pub use writer::{MmapWriter, MmapWriterOptions, SyncPolicy};
