//! A sink built for the first contract, `sinkbox:sink@0.1.0`, with
//! wit-bindgen and no SDK, as a component from before 0.2 was: the host
//! must keep loading and driving it unchanged.
//!
//! It appends every record to the file named by its `path` option (in its
//! granted directory) and answers `rejected` for a batch holding a record
//! with `"reject":true`, `partial` up to a record with `"partial":true`
//! the first time that batch is seen.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Write;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "sinkbox:sink/sink-world@0.1.0",
});

use exports::sinkbox::sink0_1_0::sink::{
    Batch, Config, FlushOutcome, Guest, HealthStatus, WriteOutcome,
};
use sinkbox::sink0_1_0::host;
use sinkbox::sink0_1_0::types::{Level, PartialWrite};

struct State {
    path: String,
    seen: HashSet<u64>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

struct ContractV01;

impl Guest for ContractV01 {
    fn start(config: Config) -> Result<(), String> {
        let path = config
            .iter()
            .find(|(key, _)| key == "path")
            .map(|(_, value)| value.clone())
            .ok_or("the option `path` is required")?;
        STATE.with(|state| {
            *state.borrow_mut() = Some(State {
                path,
                seen: HashSet::new(),
            })
        });
        host::log(Level::Info, "a 0.1 sink started");
        Ok(())
    }

    fn write(batch: Batch) -> WriteOutcome {
        STATE.with(|state| {
            let mut state = state.borrow_mut();
            let Some(state) = state.as_mut() else {
                return WriteOutcome::Fatal("not started".into());
            };
            let records: Vec<&[u8]> = batch
                .records
                .split(|b| *b == b'\n')
                .filter(|r| !r.is_empty())
                .collect();
            let has =
                |record: &[u8], marker: &[u8]| record.windows(marker.len()).any(|w| w == marker);
            if records.iter().any(|r| has(r, b"\"reject\":true")) {
                return WriteOutcome::Rejected("a 0.1 sink refuses this batch".into());
            }
            let first_time = state.seen.insert(batch.first_sequence);
            let keep = match records.iter().position(|r| has(r, b"\"partial\":true")) {
                Some(at) if first_time && at > 0 => at,
                _ => records.len(),
            };
            let mut out = match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&state.path)
            {
                Ok(file) => file,
                Err(e) => {
                    return WriteOutcome::Retryable(format!("cannot open {}: {e}", state.path));
                }
            };
            for record in &records[..keep] {
                if let Err(e) = out.write_all(record).and_then(|()| out.write_all(b"\n")) {
                    return WriteOutcome::Retryable(e.to_string());
                }
            }
            if keep < records.len() {
                WriteOutcome::Partial(PartialWrite {
                    accepted: keep as u32,
                    reason: "asked to stop part way".into(),
                })
            } else {
                WriteOutcome::Accepted
            }
        })
    }

    fn flush() -> FlushOutcome {
        FlushOutcome::Done
    }

    fn stop() {}

    fn health() -> HealthStatus {
        HealthStatus::Healthy
    }
}

export!(ContractV01);
