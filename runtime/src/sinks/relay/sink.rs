//! `relay`: hands records to a local relay process over a Unix socket, and
//! says `accepted` only for what the relay took.

use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::connection::connect_options::ConnectOptions;
use crate::sinks::util::connection::endpoint::Endpoint;
use crate::sinks::util::connection::lazy_connection::LazyConnection;
use std::path::PathBuf;

/// Options of the `relay` sink.
#[derive(Clone, Debug)]
pub struct RelaySinkOptions {
    /// The relay's Unix socket.
    pub socket: PathBuf,
    /// Connection settings.
    pub connect: ConnectOptions,
}

impl RelaySinkOptions {
    /// Options for `socket` with default connection settings.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            connect: ConnectOptions::default(),
        }
    }
}

/// Sends each batch to the relay. While the relay is away it answers
/// `retryable` (or `partial` for a send cut short), never `accepted` for
/// records it only holds: the worker retries, and a disk buffer on the
/// sink (`buffer = { type = "disk" }`) keeps every later batch through an
/// absence of any length, a restart or a crash.
pub struct RelaySink {
    connection: LazyConnection,
}

impl RelaySink {
    /// A relay sink; nothing connects until the first write.
    pub fn new(options: RelaySinkOptions) -> Self {
        Self {
            connection: LazyConnection::new(Endpoint::Unix(options.socket), options.connect),
        }
    }
}

impl Sink for RelaySink {
    fn start(&mut self) -> Result<(), SinkError> {
        self.connection.reset();
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        match self.connection.send(batch.bytes()) {
            Ok(()) => WriteOutcome::Accepted,
            Err(err) => {
                let reason = format!(
                    "the relay at {} is unreachable: {}",
                    self.connection.endpoint(),
                    err.reason
                );
                if err.records_sent > 0 {
                    WriteOutcome::Partial {
                        accepted: err.records_sent,
                        reason,
                    }
                } else {
                    WriteOutcome::Retryable(reason)
                }
            }
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        // Nothing is held: what was accepted was sent.
        FlushOutcome::Done
    }

    fn stop(&mut self) {
        self.connection.close();
    }

    fn health(&mut self) -> Health {
        self.connection.health()
    }
}
