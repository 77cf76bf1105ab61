//! The `otlp` source type: the server options every HTTP source takes
//! (the path defaulting to `/v1/logs`) and the field names of the `otlp`
//! sink's mapping, named and defaulted as that sink names them.

use super::{LOGS_PATH, OtlpSourceOptions};
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::sinks::LogMapping;
use crate::sources::SourceKind;
use crate::sources::util::server_config::{server_option_specs, server_options};
use crate::sources::util::source_type::{SourceType, UriUse};

/// The mapping options: which record field each `LogRecord` part goes to.
const MAPPING_OPTIONS: [(&str, &str, &str); 7] = [
    (
        "timestamp_field",
        "timestamp",
        "the field for time_unix_nano (else observed_time_unix_nano), as RFC 3339 in UTC",
    ),
    (
        "severity_field",
        "level",
        "the field for severity_text (else a non-zero severity_number)",
    ),
    ("body_field", "message", "the field for body, as JSON"),
    (
        "trace_id_field",
        "trace_id",
        "the field for trace_id, as 32 hex digits",
    ),
    (
        "span_id_field",
        "span_id",
        "the field for span_id, as 16 hex digits",
    ),
    (
        "resource_field",
        "resource",
        "the field for the resource's attributes, as an object",
    ),
    (
        "scope_field",
        "scope",
        "the field for the instrumentation scope, as { name, version, attributes }",
    ),
];

/// The `otlp` source type for the catalog and the loader.
pub(crate) fn source_type() -> SourceType {
    let mut options = server_option_specs(LOGS_PATH);
    options.extend(MAPPING_OPTIONS.iter().map(|(name, default, help)| {
        OptionSpec::new(name, OptionKind::String)
            .default(default)
            .help(help)
    }));
    SourceType {
        name: "otlp",
        help: "takes OpenTelemetry logs over OTLP/HTTP (POST /v1/logs, protobuf or JSON, gzip); answers as the OTLP specification says, once the records are safe",
        schemes: &["otlp"],
        uri: UriUse::Listen,
        options,
        build: |options| {
            let server = server_options(options)?;
            let field =
                |option: &str| -> Result<String, crate::registry::config_error::ConfigError> {
                    match options.string(option) {
                        Some(name) if !name.is_empty() => Ok(name),
                        _ => Err(options.invalid(option, "a field name cannot be empty")),
                    }
                };
            let mapping = LogMapping::read(field)?;
            let names = [
                &mapping.timestamp_field,
                &mapping.severity_field,
                &mapping.body_field,
                &mapping.trace_id_field,
                &mapping.span_id_field,
                &mapping.resource_field,
                &mapping.scope_field,
            ];
            for (i, name) in names.iter().enumerate() {
                if names[..i].contains(name) {
                    let option = MAPPING_OPTIONS[i].0;
                    return Err(options.invalid(
                        option,
                        format!("`{name}` is already the field of another part; give each its own"),
                    ));
                }
            }
            Ok(SourceKind::Otlp(OtlpSourceOptions { server, mapping }))
        },
    }
}
