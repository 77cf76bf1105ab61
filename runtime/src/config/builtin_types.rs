//! The built-in sink types, listed where configuration is assembled,
//! above every type (the registry below only defines what a type is).

use crate::registry::{SinkRegistry, SinkType};

impl SinkRegistry {
    /// A registry with every built-in type: the native sinks, `wasm` and
    /// `composite`.
    pub fn builtin() -> Self {
        let mut registry = Self::empty();
        for sink_type in types() {
            registry
                .register(sink_type)
                .expect("built-in sink types have unique names, schemes and options");
        }
        registry
    }
}

/// Built-in types, in catalog order.
fn types() -> Vec<SinkType> {
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
