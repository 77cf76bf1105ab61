//! `http`: posts batches of records to an HTTP endpoint, as a JSON array,
//! NDJSON, or an array wrapped in an object, over the shared delivery layer
//! (`sinks/util/http`).

pub(crate) mod config;
pub(crate) mod sink;

pub use sink::{BatchFormat, HttpSink, HttpSinkOptions};
