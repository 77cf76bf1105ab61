//! Native fast-path sinks: run in-process, behind the same [`Sink`] trait as
//! the sandboxed ones.
//!
//! [`Sink`]: crate::sink::Sink

mod file;
mod mmap;
mod mmap_writer;
mod stdout;

pub use file::{FileSink, FileSinkOptions};
pub use mmap::{MmapSink, MmapSinkOptions};
pub use mmap_writer::{MmapWriter, MmapWriterOptions, SyncPolicy};
pub use stdout::{StdoutSink, StdoutSinkOptions};
