//! Answers each batch with the outcome its records ask for, so tests can
//! drive every branch of the host's delivery logic.
//!
//! A record containing `"outcome":"<name>"` selects:
//! - `retryable_once`: `retryable` the first time that batch is seen, then accepted;
//! - `retryable`: always `retryable`;
//! - `rejected`: `rejected`;
//! - `partial`: `partial` accepting the records before the marker (first time only);
//! - `fatal`: always `fatal`.
//!
//! Accepted records are appended to `path` (option) so tests can check that
//! each arrives exactly once. Option `refuse = "true"` makes `start` fail;
//! `health` = `degraded` makes `health` report degraded.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;

use sinkbox_guest::{
    Batch, Config, FlushOutcome, HealthStatus, PartialWrite, Sink, WriteOutcome, log,
};

struct OutcomeSink {
    out: Option<File>,
    seen: HashSet<u64>,
    degraded: bool,
    flushes: u32,
}

fn marker(record: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"outcome\":\"";
    let start = record.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = record[start..].iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&record[start..start + len]).ok()
}

impl OutcomeSink {
    fn accept(&mut self, records: &[&[u8]]) -> Result<(), String> {
        if let Some(out) = &mut self.out {
            let mut buf = Vec::new();
            for record in records {
                buf.extend_from_slice(record);
                buf.push(b'\n');
            }
            out.write_all(&buf).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl Sink for OutcomeSink {
    fn start(config: Config) -> Result<Self, String> {
        if config.get("refuse") == Some("true") {
            return Err("refusing to start because the option `refuse` is true".into());
        }
        let out = match config.get("path") {
            Some(path) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open {path}: {e}"))?,
            ),
            None => None,
        };
        Ok(OutcomeSink {
            out,
            seen: HashSet::new(),
            degraded: config.get("health") == Some("degraded"),
            flushes: 0,
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let records: Vec<&[u8]> = batch.records().collect();
        let first_time = self.seen.insert(batch.first_sequence());
        for (i, record) in records.iter().enumerate() {
            match marker(record) {
                Some("retryable_once") if first_time => {
                    return WriteOutcome::Retryable("asked to retry once".into());
                }
                Some("retryable") => return WriteOutcome::Retryable("asked to retry".into()),
                Some("rejected") => return WriteOutcome::Rejected("asked to reject".into()),
                Some("fatal") => return WriteOutcome::Fatal("asked to fail".into()),
                Some("partial") if first_time && i > 0 => {
                    if let Err(e) = self.accept(&records[..i]) {
                        return WriteOutcome::Retryable(e);
                    }
                    return WriteOutcome::Partial(PartialWrite {
                        accepted: i as u32,
                        reason: "asked for a partial write".into(),
                    });
                }
                _ => {}
            }
        }
        match self.accept(&records) {
            Ok(()) => WriteOutcome::Accepted,
            Err(e) => WriteOutcome::Retryable(e),
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        self.flushes += 1;
        if let Some(out) = &mut self.out
            && let Err(e) = out.flush()
        {
            return FlushOutcome::Retryable(e.to_string());
        }
        FlushOutcome::Done
    }

    fn stop(&mut self) {
        log::info(&format!("stopped after {} flushes", self.flushes));
    }

    fn health(&mut self) -> HealthStatus {
        if self.degraded {
            HealthStatus::Degraded("configured to report degraded".into())
        } else {
            HealthStatus::Healthy
        }
    }
}

sinkbox_guest::export_sink!(OutcomeSink);
