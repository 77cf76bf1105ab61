//! `[sources.<name>]` with `type = "otlp"`: the server options every HTTP
//! source takes (the path defaulting to `/v1/logs`) and the field names of
//! the `otlp` sink's mapping.

use super::{LOGS_PATH, OtlpSourceOptions};
use crate::registry::config_error::ConfigError;
use crate::sinks::LogMapping;
use crate::sources::util::server_config::{SourceTable, server_options};

/// The mapping options, named as the `otlp` sink names them.
pub(crate) const MAPPING_OPTIONS: &[&str] = &[
    "timestamp_field",
    "severity_field",
    "body_field",
    "trace_id_field",
    "span_id_field",
    "resource_field",
    "scope_field",
];

/// The options of an `otlp` source from its table.
pub(crate) fn options_from_table(source: &SourceTable) -> Result<OtlpSourceOptions, ConfigError> {
    source.check_keys(MAPPING_OPTIONS)?;
    let server = server_options(source, LOGS_PATH)?;
    let mut mapping = LogMapping::default();
    for (option, slot) in [
        ("timestamp_field", &mut mapping.timestamp_field),
        ("severity_field", &mut mapping.severity_field),
        ("body_field", &mut mapping.body_field),
        ("trace_id_field", &mut mapping.trace_id_field),
        ("span_id_field", &mut mapping.span_id_field),
        ("resource_field", &mut mapping.resource_field),
        ("scope_field", &mut mapping.scope_field),
    ] {
        if let Some(name) = source.text(option)? {
            if name.is_empty() {
                return Err(source.error(option, "a field name cannot be empty".into()));
            }
            *slot = name;
        }
    }
    Ok(OtlpSourceOptions { server, mapping })
}
