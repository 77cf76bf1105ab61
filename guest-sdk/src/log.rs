//! Diagnostics through the host: lines show up in the host's log tagged with
//! the sink's name. Messages over 4 KiB are truncated by the host.

use crate::Level;
use crate::bindings::sinkbox::sink0_2_0::host;

/// Logs `message` at `level`.
pub fn log(level: Level, message: &str) {
    host::log(level, message);
}

/// Logs at `trace`.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Logs at `debug`.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Logs at `info`.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Logs at `warn`.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Logs at `error`.
pub fn error(message: &str) {
    log(Level::Error, message);
}
