//! Native fast-path sinks: run in-process, behind the same [`Sink`] trait as
//! the sandboxed ones.
//!
//! [`Sink`]: crate::sink::Sink

mod connection;
pub(crate) mod direct;
pub(crate) mod file;
pub(crate) mod mmap;
mod mmap_prefault;
mod mmap_writer;
mod no_follow;
pub(crate) mod relay;
pub(crate) mod rotating_file;
pub(crate) mod stdout;
pub(crate) mod stdout_pretty;
mod stdout_writer;
mod text_line;

pub use connection::{ConnectOptions, Endpoint};
pub use direct::{DirectSink, DirectSinkOptions};
pub use file::{FileSink, FileSinkOptions};
pub use mmap::{MmapSink, MmapSinkOptions};
pub use mmap_writer::{MmapWriter, MmapWriterOptions, SyncPolicy};
pub use relay::{RelaySink, RelaySinkOptions};
pub use rotating_file::{Clock, FileMode, RotatingFileSink, RotatingFileSinkOptions, SystemClock};
pub use stdout::{StdoutSink, StdoutSinkOptions};
pub use stdout_pretty::{ColourChoice, StdoutPrettySink, StdoutPrettySinkOptions};
