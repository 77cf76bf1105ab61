//! Native fast-path sinks: run in-process, behind the same [`Sink`] trait as
//! the sandboxed ones.
//!
//! [`Sink`]: crate::sink::Sink

mod file;
mod stdout;

pub use file::{FileSink, FileSinkOptions};
pub use stdout::{StdoutSink, StdoutSinkOptions};
