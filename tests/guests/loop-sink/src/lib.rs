//! Loops forever on any batch holding a record with `"loop":true`, and
//! sleeps for an hour (blocked in a WASI host call, where epoch interruption
//! cannot reach) on one holding `"sleep":true`; accepts everything else.
//! Option `loop_in = "start"` loops in `start`; `"write"` in every
//! `write`; `"health"` in every `health` call.

use sinkbox_guest::{Batch, Config, HealthStatus, Sink, WriteOutcome};

struct LoopSink {
    loop_in_health: bool,
    loop_in_write: bool,
}

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
        Ok(LoopSink {
            loop_in_health: config.get("loop_in") == Some("health"),
            loop_in_write: config.get("loop_in") == Some("write"),
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let marker: &[u8] = b"\"loop\":true";
        if self.loop_in_write
            || batch
                .records()
                .any(|r| r.windows(marker.len()).any(|w| w == marker))
        {
            spin();
        }
        let marker: &[u8] = b"\"sleep\":true";
        if batch
            .records()
            .any(|r| r.windows(marker.len()).any(|w| w == marker))
        {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
        WriteOutcome::Accepted
    }

    fn health(&mut self) -> HealthStatus {
        if self.loop_in_health {
            spin();
        }
        HealthStatus::Healthy
    }
}

sinkbox_guest::export_sink!(LoopSink);
