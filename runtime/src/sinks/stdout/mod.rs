//! `stdout`: records as NDJSON on standard output.

pub(crate) mod config;
pub(crate) mod sink;

pub use sink::{StdoutSink, StdoutSinkOptions};
