//! The sink types every registry starts with.

use super::sink_type::SinkType;

/// Built-in types, in catalog order.
pub(super) fn types() -> Vec<SinkType> {
    vec![
        crate::sinks::stdout::config::sink_type(),
        crate::sinks::stdout_pretty::config::sink_type(),
        crate::sinks::file::config::sink_type(),
        crate::sinks::rotating_file::config::sink_type(),
        crate::sinks::mmap::config::sink_type(),
        crate::sinks::direct::config::sink_type(),
        crate::sinks::relay::config::sink_type(),
        crate::sinks::http::config::sink_type(),
        crate::sinks::webhook::config::sink_type(),
        crate::sinks::loki::config::sink_type(),
        crate::sinks::otlp::config::sink_type(),
        crate::sinks::postgres::config::sink_type(),
        crate::sinks::nats::config::sink_type(),
        crate::sinks::cloudwatch::config::sink_type(),
        crate::wasm::wasm_sink_type::sink_type(),
        crate::composite::config::sink_type(),
        crate::composite::route_config::sink_type(),
    ]
}
