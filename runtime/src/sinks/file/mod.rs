//! `file`: appends records to one file, as NDJSON.

pub(crate) mod config;
pub(crate) mod sink;

pub use sink::{FileSink, FileSinkOptions};
