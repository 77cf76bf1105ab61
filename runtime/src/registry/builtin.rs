//! The sink types every registry starts with.

use super::SinkType;

/// Built-in types, in catalog order.
pub(super) fn types() -> Vec<SinkType> {
    vec![
        crate::sinks::stdout::sink_type(),
        crate::sinks::stdout_pretty::sink_type(),
        crate::sinks::file::sink_type(),
        crate::sinks::rotating_file::sink_type(),
        crate::sinks::mmap::sink_type(),
        crate::sinks::direct::sink_type(),
        crate::sinks::relay::sink_type(),
        crate::wasm::wasm_sink_type::sink_type(),
        crate::composite::sink_type(),
    ]
}
