//! The `http` sink type: its options and URI form.

use super::sink::{BatchFormat, HttpSink, HttpSinkOptions};
use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_options::SinkOptions;
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};
use crate::sinks::util::http::options::{HTTP_OPTIONS, HttpOptions};

/// The `http` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "http",
        "posts batches of records to an HTTP endpoint (JSON array, NDJSON or wrapped), with retries, Retry-After and a circuit breaker",
        |options, context| {
            let http = HttpOptions::from_options(options, &*context)?;
            Ok(Box::new(HttpSink::new(HttpSinkOptions {
                http,
                format: batch_format(options)?,
                signing: None,
            })))
        },
    )
    .options(HTTP_OPTIONS)
    .options(FORMAT_OPTIONS)
    .uri(UriForm {
        schemes: &["http", "https"],
        target: UriTarget::WholeUri("endpoint"),
        rest_into: None,
    })
}

/// How an HTTP-based sink frames records, declared once for `http` and
/// `webhook`.
pub(crate) const FORMAT_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("batch_format", OptionKind::Choice(&["array", "ndjson", "wrapped"]))
        .default("array")
        .help("array: [rec,…] as application/json; ndjson: one record per line as application/x-ndjson; wrapped: {\"<wrapper_key>\":[rec,…]}"),
    OptionSpec::new("wrapper_key", OptionKind::String)
        .default("logs")
        .help("the key holding the array when batch_format = \"wrapped\""),
];

/// Reads `batch_format` and `wrapper_key`.
pub(crate) fn batch_format(options: &SinkOptions) -> Result<BatchFormat, ConfigError> {
    Ok(match options.require_string("batch_format")?.as_str() {
        "ndjson" => BatchFormat::Ndjson,
        "wrapped" => BatchFormat::Wrapped(options.require_string("wrapper_key")?),
        _ => BatchFormat::Array,
    })
}
