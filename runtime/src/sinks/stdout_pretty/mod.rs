//! `stdout_pretty`: records as readable text lines on standard output.

pub(crate) mod config;
pub(crate) mod sink;

pub use sink::{ColourChoice, StdoutPrettySink, StdoutPrettySinkOptions};
