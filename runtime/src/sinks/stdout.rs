//! `stdout`: every record as one JSON line on standard output.

use std::io::{ErrorKind, Write};

use serde::Deserialize;

use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// Options of the `stdout` sink (it has none yet).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkOptions {}

/// Writes each batch to standard output with one `write` call.
#[derive(Debug, Default)]
pub struct StdoutSink {
    closed: bool,
}

impl StdoutSink {
    /// A stdout sink.
    pub fn new(_options: StdoutSinkOptions) -> Self {
        Self { closed: false }
    }
}

impl Sink for StdoutSink {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let mut out = std::io::stdout().lock();
        match out.write_all(batch.bytes()).and_then(|()| out.flush()) {
            Ok(()) => WriteOutcome::Accepted,
            Err(err) if err.kind() == ErrorKind::BrokenPipe => {
                self.closed = true;
                WriteOutcome::Rejected("standard output is closed".into())
            }
            Err(err) => WriteOutcome::Retryable(format!("cannot write to standard output: {err}")),
        }
    }

    fn health(&mut self) -> Health {
        if self.closed {
            Health::Unhealthy(
                "standard output is closed (broken pipe); records are dead-lettered".into(),
            )
        } else {
            Health::Healthy
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        match std::io::stdout().flush() {
            Ok(()) => FlushOutcome::Done,
            Err(err) => FlushOutcome::Retryable(format!("cannot flush standard output: {err}")),
        }
    }
}
