//! The `loki` sink type: its options.

use super::sink::{LineSizeAction, LokiEncoding, LokiSink, LokiSinkOptions, OutOfOrderAction};
use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_context::string_with_secrets;
use crate::registry::sink_options::SinkOptions;
use crate::registry::sink_type::SinkType;
use crate::sinks::util::http::options::{Compression, HTTP_OPTIONS, HttpOptions};

/// The push API's path, added to an endpoint given without one.
pub(crate) const PUSH_PATH: &str = "/loki/api/v1/push";

/// The `loki` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "loki",
        "pushes records to Grafana Loki (/loki/api/v1/push) as snappy protobuf or JSON, in streams labelled from static labels and record fields",
        |options, context| {
            let mut http = HttpOptions::from_options(options, &*context)?;
            with_path(&mut http.endpoint, PUSH_PATH);
            let encoding = match options.require_string("encoding")?.as_str() {
                "json" => LokiEncoding::Json,
                _ => LokiEncoding::Protobuf,
            };
            if http.compression == Compression::Zstd {
                return Err(options.invalid(
                    "compression",
                    "Loki's push API takes gzip, not zstd; set compression = \"gzip\" (with encoding = \"json\")",
                ));
            }
            if encoding == LokiEncoding::Protobuf && http.compression != Compression::None {
                return Err(options.invalid(
                    "compression",
                    "protobuf pushes are snappy-compressed already; leave compression unset, or set encoding = \"json\"",
                ));
            }
            if let Some(tenant) = string_with_secrets(options, &*context, "tenant_id")? {
                http.headers.push(("X-Scope-OrgID".into(), tenant));
            }
            let sink = LokiSink::new(LokiSinkOptions {
                http,
                encoding,
                labels: options.table("labels")?,
                label_keys: options.list("label_keys")?,
                max_label_values: integer(options, "max_label_values")?,
                line_field: non_empty(options.string("line_field")?),
                timestamp_field: non_empty(options.string("timestamp_field")?),
                out_of_order: match options.require_string("out_of_order_action")?.as_str() {
                    "rewrite_timestamp" => OutOfOrderAction::RewriteTimestamp,
                    "drop" => OutOfOrderAction::Drop,
                    _ => OutOfOrderAction::Accept,
                },
                max_line_size: usize::try_from(options.size_or_default("max_line_size")?)
                    .unwrap_or(usize::MAX)
                    .max(64),
                line_size_action: match options.require_string("max_line_size_action")?.as_str()
                {
                    "drop" => LineSizeAction::Drop,
                    _ => LineSizeAction::Truncate,
                },
            })
            .map_err(|why| options.invalid("labels", why))?;
            Ok(Box::new(sink))
        },
    )
    .options(HTTP_OPTIONS)
    // Loki's ingestion limit is 4 MB/s with 6 MB bursts: a larger request
    // would be refused with 429 for ever.
    .default_of("max_bytes", "1MB")
    .options(LOKI_OPTIONS)
}

const LOKI_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("encoding", OptionKind::Choice(&["protobuf", "json"]))
        .default("protobuf")
        .help("protobuf: logproto.PushRequest, snappy-compressed; json: {\"streams\":[…]}"),
    OptionSpec::new("tenant_id", OptionKind::String)
        .help("sent as X-Scope-OrgID for a multi-tenant Loki; may be ${secret:NAME}"),
    OptionSpec::new("labels", OptionKind::Table)
        .help("labels on every stream, such as { job = \"api\", env = \"prod\" }; with no label at all a stream gets service=\"sinkbox\""),
    OptionSpec::new("label_keys", OptionKind::List)
        .default("level")
        .help("record fields that become labels (`service.name` becomes service_name); a record without the field gets no such label"),
    OptionSpec::new("max_label_values", OptionKind::Integer)
        .default("100")
        .help("distinct values one field label may take; later new values are sent as \"_overflow\" (the line keeps the real value)"),
    OptionSpec::new("line_field", OptionKind::String)
        .help("the field sent as the log line (strings as they are, other values as JSON); unset: the whole record as JSON"),
    OptionSpec::new("timestamp_field", OptionKind::String)
        .default("timestamp")
        .help("the field holding the entry's time (RFC 3339, or Unix s/ms/µs/ns); missing or unreadable: the time of sending; \"\": always the time of sending"),
    OptionSpec::new(
        "out_of_order_action",
        OptionKind::Choice(&["accept", "rewrite_timestamp", "drop"]),
    )
    .default("accept")
    .help("an entry older than the last sent on its stream: send it as is, send it with that last time, or leave it out"),
    OptionSpec::new("max_line_size", OptionKind::Size)
        .default("256KB")
        .help("longest line sent (Loki's default limit)"),
    OptionSpec::new("max_line_size_action", OptionKind::Choice(&["truncate", "drop"]))
        .default("truncate")
        .help("a longer line: cut it (ending with how much was cut), or leave it out"),
];

/// The push path goes on an endpoint that has none (`http://loki:3100`).
fn with_path(endpoint: &mut reqwest::Url, path: &str) {
    if endpoint.path().is_empty() || endpoint.path() == "/" {
        endpoint.set_path(path);
    }
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|text| !text.is_empty())
}

fn integer(options: &SinkOptions, option: &str) -> Result<usize, ConfigError> {
    let value = options.integer_or_default(option)?;
    if value == 0 {
        return Err(options.invalid(option, "must be at least 1"));
    }
    Ok(usize::try_from(value).unwrap_or(usize::MAX))
}
