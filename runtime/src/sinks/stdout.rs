//! `stdout`: every record as one JSON line on standard output.

use super::stdout_writer::StdoutWriter;
use crate::batch::Batch;
use crate::registry::{SinkType, UriForm, UriTarget};
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// Options of the `stdout` sink (it has none yet).
#[derive(Clone, Debug, Default)]
pub struct StdoutSinkOptions {}

/// The `stdout` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "stdout",
        "every record as one JSON line on standard output",
        |_options, _context| Ok(Box::new(StdoutSink::new(StdoutSinkOptions {}))),
    )
    .uri(UriForm {
        schemes: &["stdout"],
        target: UriTarget::Nothing,
        rest_into: None,
    })
}

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
