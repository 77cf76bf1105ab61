//! Native fast-path sinks: run in-process, behind the same [`Sink`] trait as
//! the sandboxed ones.
//!
//! [`Sink`]: crate::sink::Sink

mod file;
mod mmap;
mod mmap_writer;
mod rotating_file;
mod stdout;
mod stdout_pretty;
mod text_line;

pub use file::{FileSink, FileSinkOptions};
pub use mmap::{MmapSink, MmapSinkOptions};
pub use mmap_writer::{MmapWriter, MmapWriterOptions, SyncPolicy};
pub use rotating_file::{Clock, FileMode, RotatingFileSink, RotatingFileSinkOptions, SystemClock};
pub use stdout::{StdoutSink, StdoutSinkOptions};
pub use stdout_pretty::{ColourChoice, StdoutPrettySink, StdoutPrettySinkOptions};
