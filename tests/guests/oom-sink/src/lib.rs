//! Allocates without bound on any batch holding a record with `"oom":true`;
//! accepts everything else. Option `oom_in = "write"` does so on every
//! write.

use sinkbox_guest::{Batch, Config, Sink, WriteOutcome};

struct OomSink {
    hoard: Vec<Vec<u8>>,
    always: bool,
}

impl Sink for OomSink {
    fn start(config: Config) -> Result<Self, String> {
        Ok(OomSink {
            hoard: Vec::new(),
            always: config.get("oom_in") == Some("write"),
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let marker: &[u8] = b"\"oom\":true";
        if self.always
            || batch
                .records()
                .any(|r| r.windows(marker.len()).any(|w| w == marker))
        {
            loop {
                // Touch every page so the memory is really used.
                self.hoard.push(vec![1u8; 1 << 20]);
            }
        }
        WriteOutcome::Accepted
    }
}

sinkbox_guest::export_sink!(OomSink);
