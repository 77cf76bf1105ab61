//! `stdout_pretty`: human-readable lines on standard output.

use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::stdout_writer::StdoutWriter;
use crate::sinks::util::text_line::write_text_line;
use std::io::IsTerminal;

/// When `stdout_pretty` uses ANSI colours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColourChoice {
    /// When standard output is a terminal and `NO_COLOR` is unset (default).
    #[default]
    Auto,
    /// Always (for `less -R`, CI logs that render ANSI).
    Always,
    /// Never.
    Never,
}

/// Options of the `stdout_pretty` sink.
#[derive(Clone, Debug, Default)]
pub struct StdoutPrettySinkOptions {
    /// `auto` (default), `always` or `never`.
    pub color: ColourChoice,
}

/// Writes each record as `time LEVEL message key=value ...`, one `write` per
/// batch. Records that are not JSON objects are printed as they are.
#[derive(Debug)]
pub struct StdoutPrettySink {
    colour: bool,
    buffer: Vec<u8>,
    out: StdoutWriter,
}

impl StdoutPrettySink {
    /// A pretty stdout sink; `auto` colour is decided here, once.
    pub fn new(options: StdoutPrettySinkOptions) -> Self {
        let colour = match options.color {
            ColourChoice::Always => true,
            ColourChoice::Never => false,
            ColourChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Self {
            colour,
            buffer: Vec::new(),
            out: StdoutWriter::default(),
        }
    }
}

impl Sink for StdoutPrettySink {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        self.buffer.clear();
        for record in batch.records() {
            write_text_line(&mut self.buffer, record, self.colour);
            self.buffer.push(b'\n');
        }
        self.out.write(&self.buffer)
    }

    fn flush(&mut self) -> FlushOutcome {
        self.out.flush()
    }

    fn health(&mut self) -> Health {
        self.out.health()
    }
}
