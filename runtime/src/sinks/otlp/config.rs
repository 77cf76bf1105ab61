//! The `otlp` sink type: its options.

use super::log_mapping::LogMapping;
use super::sink::{OtlpEncoding, OtlpSink, OtlpSinkOptions};
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_type::SinkType;
use crate::sinks::util::http::options::{HTTP_OPTIONS, HttpOptions};

/// The OTLP/HTTP logs path, added to an endpoint given without one.
pub(crate) const LOGS_PATH: &str = "/v1/logs";

/// The `otlp` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "otlp",
        "exports records as OpenTelemetry logs over OTLP/HTTP (/v1/logs, protobuf or JSON) to a Collector or any OTLP receiver",
        |options, context| {
            let mut http = HttpOptions::from_options(options, &*context)?;
            if http.endpoint.path().is_empty() || http.endpoint.path() == "/" {
                http.endpoint.set_path(LOGS_PATH);
            }
            let field = |option: &str| options.require_string(option);
            Ok(Box::new(OtlpSink::new(OtlpSinkOptions {
                http,
                encoding: match options.require_string("encoding")?.as_str() {
                    "json" => OtlpEncoding::Json,
                    _ => OtlpEncoding::Protobuf,
                },
                resource: options.table("resource")?,
                mapping: LogMapping::read(field)?,
            })))
        },
    )
    .options(HTTP_OPTIONS)
    .options(OTLP_OPTIONS)
}

const OTLP_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("encoding", OptionKind::Choice(&["protobuf", "json"]))
        .default("protobuf")
        .help("protobuf: application/x-protobuf; json: OTLP/JSON"),
    OptionSpec::new("resource", OptionKind::Table)
        .help("resource attributes of every record, such as { \"service.name\" = \"checkout\" }; a record's own resource (resource_field) wins for the keys it sets"),
    OptionSpec::new("timestamp_field", OptionKind::String)
        .default("timestamp")
        .help("the field for time_unix_nano (RFC 3339, or Unix s/ms/µs/ns); observed_time_unix_nano is the time of sending"),
    OptionSpec::new("severity_field", OptionKind::String)
        .default("level")
        .help("the field for severity_text, mapped to severity_number (trace 1, debug 5, info 9, warn 13, error 17, fatal 21; a number 1–24 as is)"),
    OptionSpec::new("body_field", OptionKind::String)
        .default("message")
        .help("the field for body, the other fields becoming attributes; a record without it is the body as a whole"),
    OptionSpec::new("trace_id_field", OptionKind::String)
        .default("trace_id")
        .help("the field for trace_id (32 hex digits; anything else stays an attribute)"),
    OptionSpec::new("span_id_field", OptionKind::String)
        .default("span_id")
        .help("the field for span_id (16 hex digits; anything else stays an attribute)"),
    OptionSpec::new("resource_field", OptionKind::String)
        .default("resource")
        .help("the field holding the record's resource attributes as an object (as the otlp source writes them); records are grouped by resource"),
    OptionSpec::new("scope_field", OptionKind::String)
        .default("scope")
        .help("the field holding the instrumentation scope as { name, version, attributes } (as the otlp source writes it); without it the scope is sinkbox"),
];
