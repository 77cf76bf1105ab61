//! `direct`: streams NDJSON to a TCP, Unix or WebSocket endpoint.

use std::time::Duration;

use serde::Deserialize;

use super::connection::{ConnectOptions, Endpoint, LazyConnection};
use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// Options of the `direct` sink.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectSinkOptions {
    /// `tcp://host:port`, `unix:///path`, `ws://host:port/path` or
    /// `wss://host:port/path`.
    pub endpoint: Endpoint,
    /// Extra certificate authorities (PEM) trusted for `wss://`.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Limit of one connection attempt and of one blocked write (default 5 s).
    #[serde(default = "defaults::connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// First wait after a failed attempt, doubled each failure (default 100 ms).
    #[serde(default = "defaults::retry_delay", with = "humantime_serde")]
    pub retry_delay: Duration,
    /// Upper bound of that wait (default 30 s).
    #[serde(default = "defaults::max_retry_delay", with = "humantime_serde")]
    pub max_retry_delay: Duration,
}

pub(super) mod defaults {
    use super::*;

    pub fn connect_timeout() -> Duration {
        ConnectOptions::default().connect_timeout
    }
    pub fn retry_delay() -> Duration {
        ConnectOptions::default().retry_delay
    }
    pub fn max_retry_delay() -> Duration {
        ConnectOptions::default().max_retry_delay
    }
}

impl DirectSinkOptions {
    /// Options for `endpoint` with default connection settings.
    pub fn new(endpoint: Endpoint) -> Self {
        let connect = ConnectOptions::default();
        Self {
            endpoint,
            ca_file: None,
            connect_timeout: connect.connect_timeout,
            retry_delay: connect.retry_delay,
            max_retry_delay: connect.max_retry_delay,
        }
    }

    pub(super) fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            connect_timeout: self.connect_timeout,
            retry_delay: self.retry_delay,
            max_retry_delay: self.max_retry_delay,
            ca_file: self.ca_file.clone(),
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
        let connect = options.connect_options();
        Self {
            connection: LazyConnection::new(options.endpoint, connect),
        }
    }
}

impl Sink for DirectSink {
    fn start(&mut self) -> Result<(), SinkError> {
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
