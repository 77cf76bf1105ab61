//! `rotating_file`: writes records to a file rotated by size and/or time,
//! with retention and optional gzip.

mod compression;
pub(crate) mod config;
pub(crate) mod naming;
pub(crate) mod sink;

pub use sink::{Clock, FileMode, RotatingFileSink, RotatingFileSinkOptions, SystemClock};
