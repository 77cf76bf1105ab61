//! Traps (panics) on any batch holding a record with `"trap":true`;
//! accepts everything else. Option `trap_in = "write"` traps on every
//! write, `"flush"` on every flush, `"stop"` on every stop.

use sinkbox_guest::{Batch, Config, FlushOutcome, Sink, WriteOutcome};

struct TrapSink {
    trap_in: String,
}

impl Sink for TrapSink {
    fn start(config: Config) -> Result<Self, String> {
        Ok(TrapSink {
            trap_in: config.get_or("trap_in", "").to_owned(),
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let marker: &[u8] = b"\"trap\":true";
        if self.trap_in == "write"
            || batch
                .records()
                .any(|r| r.windows(marker.len()).any(|w| w == marker))
        {
            panic!("found the trap marker");
        }
        WriteOutcome::Accepted
    }

    fn flush(&mut self) -> FlushOutcome {
        if self.trap_in == "flush" {
            panic!("told to trap in flush");
        }
        FlushOutcome::Done
    }

    fn stop(&mut self) {
        if self.trap_in == "stop" {
            panic!("told to trap in stop");
        }
    }
}

sinkbox_guest::export_sink!(TrapSink);
