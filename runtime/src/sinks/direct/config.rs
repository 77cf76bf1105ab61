//! The `direct` sink type: its options and URI form.

use super::sink::{DirectSink, DirectSinkOptions};
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};
use crate::sinks::util::connection::connect_options::{CONNECTION_OPTIONS, ConnectOptions};
use crate::sinks::util::connection::endpoint::Endpoint;

/// The `direct` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "direct",
        "streams NDJSON to a tcp://, unix://, ws:// or wss:// endpoint, reconnecting as needed",
        |options, _context| {
            let endpoint = options
                .parse_text("endpoint", |text| text.parse::<Endpoint>())?
                .ok_or_else(|| options.invalid("endpoint", "missing; this option is required"))?;
            Ok(Box::new(DirectSink::new(DirectSinkOptions {
                endpoint,
                connect: ConnectOptions::from_options(options)?,
            })))
        },
    )
    .option(
        OptionSpec::new(
            "endpoint",
            OptionKind::Text(
                "tcp://host:port, unix:///path, ws://host:port/path or wss://host:port/path",
            ),
        )
        .required()
        .help("where to send: tcp://, unix://, ws:// or wss://"),
    )
    .option(
        OptionSpec::new("ca_file", OptionKind::Path)
            .help("for wss://: a PEM file of extra certificate authorities (private or self-signed servers), besides the web PKI roots"),
    )
    .options(CONNECTION_OPTIONS)
    .uri(UriForm {
        schemes: &["tcp", "unix", "ws", "wss"],
        target: UriTarget::WholeUri("endpoint"),
        rest_into: None,
    })
}
