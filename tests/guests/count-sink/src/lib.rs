//! Counts records and bytes; nothing else. The wasm side of the benchmark
//! (the native side runs the same logic) and the simplest well-behaved sink.

use sinkbox_guest::{Batch, Config, Sink, WriteOutcome, log};

struct CountSink {
    records: u64,
    bytes: u64,
}

impl Sink for CountSink {
    fn start(_config: Config) -> Result<Self, String> {
        Ok(CountSink {
            records: 0,
            bytes: 0,
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        for record in batch.records() {
            self.records += 1;
            self.bytes += record.len() as u64;
        }
        WriteOutcome::Accepted
    }

    fn stop(&mut self) {
        log::info(&format!(
            "counted {} records, {} bytes",
            self.records, self.bytes
        ));
    }
}

sinkbox_guest::export_sink!(CountSink);
