//! Standard output as both stdout sinks use it: one locked write per batch,
//! a closed pipe remembered for `health`.

use std::io::{ErrorKind, Write};

use crate::sink::{FlushOutcome, Health, WriteOutcome};

/// Writes whole batches to standard output.
#[derive(Debug, Default)]
pub(crate) struct StdoutWriter {
    closed: bool,
}

impl StdoutWriter {
    /// Writes `bytes` with one locked write. A closed stdout (broken pipe)
    /// rejects the batch, which then goes to the dead-letter file.
    pub fn write(&mut self, bytes: &[u8]) -> WriteOutcome {
        let mut out = std::io::stdout().lock();
        match out.write_all(bytes).and_then(|()| out.flush()) {
            Ok(()) => WriteOutcome::Accepted,
            Err(err) if err.kind() == ErrorKind::BrokenPipe => {
                self.closed = true;
                WriteOutcome::Rejected("standard output is closed".into())
            }
            Err(err) => WriteOutcome::Retryable(format!("cannot write to standard output: {err}")),
        }
    }

    pub fn flush(&mut self) -> FlushOutcome {
        match std::io::stdout().flush() {
            Ok(()) => FlushOutcome::Done,
            Err(err) => FlushOutcome::Retryable(format!("cannot flush standard output: {err}")),
        }
    }

    pub fn health(&self) -> Health {
        if self.closed {
            Health::Unhealthy(
                "standard output is closed (broken pipe); records are dead-lettered".into(),
            )
        } else {
            Health::Healthy
        }
    }
}
