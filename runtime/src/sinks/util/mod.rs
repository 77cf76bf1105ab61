//! What the native sinks share: the circuit breaker, the runtime that
//! drives async clients from a sink's thread, connections, file syncing,
//! text lines, the stdout writer, no-follow opens, URI masking, and
//! reading a record's fields and time.

pub(crate) mod blocking_runtime;
pub(crate) mod breaker;
pub(crate) mod connection;
pub(crate) mod field_template;
pub(crate) mod file_options;
pub(crate) mod file_sync;
pub(crate) mod http;
pub(crate) mod no_follow;
// The full-parse field lookup the sinks used before `record_fields`: kept
// as the oracle the scanner-based reader is tested against.
#[cfg(test)]
pub(crate) mod record_field;
pub(crate) mod record_fields;
pub(crate) mod record_time;
pub(crate) mod stdout_writer;
pub(crate) mod text_line;
pub(crate) mod uri_redact;
