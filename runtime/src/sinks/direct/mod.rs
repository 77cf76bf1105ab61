//! `direct`: sends records over one TCP, Unix or WebSocket connection.

pub(crate) mod config;
pub(crate) mod sink;

pub use sink::{DirectSink, DirectSinkOptions};
