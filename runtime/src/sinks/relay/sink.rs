//! `relay`: hands records to a local relay process over a Unix socket,
//! buffering in memory while the relay is away.

use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::connection::connect_options::ConnectOptions;
use crate::sinks::util::connection::endpoint::Endpoint;
use crate::sinks::util::connection::lazy_connection::LazyConnection;
use std::collections::VecDeque;
use std::path::PathBuf;

/// Options of the `relay` sink.
#[derive(Clone, Debug)]
pub struct RelaySinkOptions {
    /// The relay's Unix socket.
    pub socket: PathBuf,
    /// Bytes of batches held in memory while the relay is unreachable
    /// (default 8 MiB); past that, writes answer `retryable`.
    pub buffer_size: u64,
    /// Connection settings.
    pub connect: ConnectOptions,
}

impl RelaySinkOptions {
    /// Options for `socket` with an 8 MiB buffer and default connection
    /// settings.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            buffer_size: 8 * 1024 * 1024,
            connect: ConnectOptions::default(),
        }
    }
}

/// Sends each batch to the relay; while the relay is unreachable, keeps
/// batches in memory (up to `buffer_size`) and sends them, in order, once it
/// is back. `flush` succeeds only when the buffer is empty, so
/// `Pipeline::flush` and shutdown say when the relay never came back.
pub struct RelaySink {
    connection: LazyConnection,
    buffer: VecDeque<Batch>,
    buffered_bytes: u64,
    buffer_size: u64,
}

impl RelaySink {
    /// A relay sink; nothing connects until the first write.
    pub fn new(options: RelaySinkOptions) -> Self {
        Self {
            connection: LazyConnection::new(Endpoint::Unix(options.socket), options.connect),
            buffer: VecDeque::new(),
            buffered_bytes: 0,
            buffer_size: options.buffer_size,
        }
    }

    /// Sends buffered batches in order until the buffer is empty or a send
    /// fails. A batch cut short stays buffered without the records that went
    /// out.
    fn drain(&mut self) -> Result<(), String> {
        while let Some(batch) = self.buffer.front() {
            let size = batch.bytes().len() as u64;
            match self.connection.send(batch.bytes()) {
                Ok(()) => {
                    self.buffered_bytes -= size;
                    self.buffer.pop_front();
                }
                Err(err) => {
                    if err.records_sent > 0 {
                        let rest = batch.skip(err.records_sent);
                        self.buffered_bytes -= size - rest.bytes().len() as u64;
                        self.buffer[0] = rest;
                    }
                    return Err(err.reason);
                }
            }
        }
        Ok(())
    }
}

impl Sink for RelaySink {
    fn start(&mut self) -> Result<(), SinkError> {
        self.connection.reset();
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        // What is left of the batch to deliver or buffer: all of it, or the
        // records after those a cut-short send delivered.
        let mut batch = batch.clone();
        let mut records_sent = 0;
        let sent = self.drain().and_then(|()| {
            self.connection.send(batch.bytes()).map_err(|err| {
                records_sent = err.records_sent;
                batch = batch.skip(err.records_sent);
                err.reason
            })
        });
        let Err(why) = sent else {
            return WriteOutcome::Accepted;
        };
        let size = batch.bytes().len() as u64;
        if self.buffered_bytes + size > self.buffer_size {
            let reason = format!(
                "the relay is unreachable and its {}-byte buffer is full: {why}",
                self.buffer_size
            );
            return if records_sent > 0 {
                WriteOutcome::Partial {
                    accepted: records_sent,
                    reason,
                }
            } else {
                WriteOutcome::Retryable(reason)
            };
        }
        // The batch shares the pipeline's buffer: holding it copies nothing.
        self.buffer.push_back(batch);
        self.buffered_bytes += size;
        WriteOutcome::Accepted
    }

    fn flush(&mut self) -> FlushOutcome {
        match self.drain() {
            Ok(()) => FlushOutcome::Done,
            Err(why) => FlushOutcome::Retryable(format!(
                "{} batches ({} bytes) still buffered for the relay: {why}",
                self.buffer.len(),
                self.buffered_bytes
            )),
        }
    }

    fn stop(&mut self) {
        if self.drain().is_err() {
            let records: u32 = self.buffer.iter().map(Batch::len).sum();
            tracing::error!(
                socket = %self.connection.endpoint(),
                "stopping with {records} records still buffered for an unreachable relay; they are lost"
            );
        }
        self.connection.close();
    }

    fn health(&mut self) -> Health {
        if self.buffer.is_empty() {
            return self.connection.health();
        }
        Health::Degraded(format!(
            "{} bytes buffered while the relay is unreachable",
            self.buffered_bytes
        ))
    }
}
