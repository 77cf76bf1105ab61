//! Loops forever on any batch holding a record with `"loop":true`;
//! accepts everything else. Option `loop_in = "start"` loops in `start`.

use sinkbox_guest::{Batch, Config, Sink, WriteOutcome};

struct LoopSink;

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

impl Sink for LoopSink {
    fn start(config: Config) -> Result<Self, String> {
        if config.get("loop_in") == Some("start") {
            spin();
        }
        Ok(LoopSink)
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let marker: &[u8] = b"\"loop\":true";
        if batch
            .records()
            .any(|r| r.windows(marker.len()).any(|w| w == marker))
        {
            spin();
        }
        WriteOutcome::Accepted
    }
}

sinkbox_guest::export_sink!(LoopSink);
