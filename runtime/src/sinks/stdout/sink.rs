//! `stdout`: every record as one JSON line on standard output.

use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::stdout_writer::StdoutWriter;

/// Options of the `stdout` sink (it has none yet).
#[derive(Clone, Debug, Default)]
pub struct StdoutSinkOptions {}

/// Writes each batch to standard output with one `write` call.
#[derive(Debug, Default)]
pub struct StdoutSink {
    out: StdoutWriter,
}

impl StdoutSink {
    /// A stdout sink.
    pub fn new(_options: StdoutSinkOptions) -> Self {
        Self::default()
    }
}

impl Sink for StdoutSink {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        self.out.write(batch.bytes())
    }

    fn flush(&mut self) -> FlushOutcome {
        self.out.flush()
    }

    fn health(&mut self) -> Health {
        self.out.health()
    }
}
