//! The `relay` sink type: its options and URI form.

use super::sink::{RelaySink, RelaySinkOptions};
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};
use crate::sinks::util::connection::connect_options::{CONNECTION_OPTIONS, ConnectOptions};

/// The `relay` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "relay",
        "hands records to a local relay over a Unix socket; while it is away, writes are retried (add a disk buffer to keep batches through long absences)",
        |options, _context| {
            if options.is_set("buffer_size") {
                tracing::warn!(
                    sink = options.sink_name(),
                    "`buffer_size` is no longer used: the relay sink holds nothing in memory; put buffer = {{ type = \"disk\" }} on the sink to keep batches while the relay is away"
                );
            }
            Ok(Box::new(RelaySink::new(RelaySinkOptions {
                socket: options.require_path("socket")?,
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
            .help("no longer used (a warning says so): the sink holds nothing in memory; use buffer = { type = \"disk\" }"),
    )
    .options(CONNECTION_OPTIONS)
    .uri(UriForm {
        schemes: &["relay"],
        target: UriTarget::Path("socket"),
        rest_into: None,
    })
}
