//! `direct`: streams NDJSON to a TCP, Unix or WebSocket endpoint.

use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::connection::connect_options::ConnectOptions;
use crate::sinks::util::connection::endpoint::Endpoint;
use crate::sinks::util::connection::lazy_connection::LazyConnection;

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
