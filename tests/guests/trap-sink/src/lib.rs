//! Traps (panics) on any batch holding a record with `"trap":true`;
//! accepts everything else.

use sinkbox_guest::{Batch, Config, Sink, WriteOutcome};

struct TrapSink;

impl Sink for TrapSink {
    fn start(_config: Config) -> Result<Self, String> {
        Ok(TrapSink)
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let marker: &[u8] = b"\"trap\":true";
        if batch
            .records()
            .any(|r| r.windows(marker.len()).any(|w| w == marker))
        {
            panic!("found the trap marker");
        }
        WriteOutcome::Accepted
    }
}

sinkbox_guest::export_sink!(TrapSink);
