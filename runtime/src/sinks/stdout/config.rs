//! The `stdout` sink type: its options and URI form.

use super::sink::{StdoutSink, StdoutSinkOptions};
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};

/// The `stdout` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "stdout",
        "every record as one JSON line on standard output",
        |_options, _context| Ok(Box::new(StdoutSink::new(StdoutSinkOptions {}))),
    )
    .uri(UriForm {
        schemes: &["stdout"],
        target: UriTarget::Nothing,
        rest_into: None,
    })
}
