//! `direct`: streams NDJSON to a TCP, Unix or WebSocket endpoint.

use super::connection::{CONNECTION_OPTIONS, ConnectOptions, Endpoint, LazyConnection};
use crate::batch::Batch;
use crate::registry::{OptionKind, OptionSpec, SinkType, UriForm, UriTarget};
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// Options of the `direct` sink.
#[derive(Clone, Debug)]
pub struct DirectSinkOptions {
    /// `tcp://host:port`, `unix:///path`, `ws://host:port/path` or
    /// `wss://host:port/path`.
    pub endpoint: Endpoint,
    /// Connection settings, including `ca_file` for `wss://`.
    pub connect: ConnectOptions,
}

impl DirectSinkOptions {
    /// Options for `endpoint` with default connection settings.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            connect: ConnectOptions::default(),
        }
    }
}

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

/// Writes each batch to the endpoint as it arrives. Connects on the first
/// write; while the endpoint is down each write answers `retryable`, so the
/// pipeline keeps the batch and sends it again after its back-off. A batch
/// is accepted only once all of it was written to the socket.
pub struct DirectSink {
    connection: LazyConnection,
}

impl DirectSink {
    /// A direct sink; nothing connects until the first write.
    pub fn new(options: DirectSinkOptions) -> Self {
        Self {
            connection: LazyConnection::new(options.endpoint, options.connect),
        }
    }
}

impl Sink for DirectSink {
    fn start(&mut self) -> Result<(), SinkError> {
        self.connection.reset();
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        // A write cut short reports the whole records that went out, so the
        // pipeline resends only the rest.
        match self.connection.send(batch.bytes()) {
            Ok(()) => WriteOutcome::Accepted,
            Err(err) => err.outcome(),
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        // Nothing is buffered: every accepted batch is already on the socket.
        FlushOutcome::Done
    }

    fn stop(&mut self) {
        self.connection.close();
    }

    fn health(&mut self) -> Health {
        self.connection.health()
    }
}
