//! `relay`: hands records to a local relay over a Unix socket, buffering
//! while it is away.

pub(crate) mod config;
pub(crate) mod sink;

pub use sink::{RelaySink, RelaySinkOptions};
