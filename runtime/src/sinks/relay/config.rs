//! The `relay` sink type: its options and URI form.

use super::sink::{RelaySink, RelaySinkOptions};
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};
use crate::sinks::util::connection::connect_options::{CONNECTION_OPTIONS, ConnectOptions};

/// The `relay` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "relay",
        "hands records to a local relay over a Unix socket, buffering while it is away",
        |options, _context| {
            Ok(Box::new(RelaySink::new(RelaySinkOptions {
                socket: options.require_path("socket")?,
                buffer_size: options.size_or_default("buffer_size")?,
                connect: ConnectOptions::from_options(options)?,
            })))
        },
    )
    .option(
        OptionSpec::new("socket", OptionKind::Path)
            .required()
            .help("the relay's Unix socket"),
    )
    .option(
        OptionSpec::new("buffer_size", OptionKind::Size)
            .default("8MiB")
            .help("batches held in memory while the relay is away; past that, writes are retried"),
    )
    .options(CONNECTION_OPTIONS)
    .uri(UriForm {
        schemes: &["relay"],
        target: UriTarget::Path("socket"),
        rest_into: None,
    })
}
