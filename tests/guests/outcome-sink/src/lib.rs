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
//! and, from contract 0.2:
//! - `refuse_me`: this record alone is refused (`per-record`), the rest stored;
//! - `throttle_once`: this record alone is retryable the first time it is
//!   seen, after a 10 ms `retry-after`;
//! - `dropped`: the batch is stored and one record said dropped;
//! - `indeterminate_once`: the batch is stored, then said `indeterminate`
//!   (the first time), as after a timeout;
//! - `warning`: stored, with a warning;
//! - `many_ranges`: a hostile answer, ten ranges per record, each with a
//!   10 KB reason full of control characters.
//!
//! Accepted records are appended to `path` (option) so tests can check that
//! each arrives exactly once. Option `refuse = "true"` makes `start` fail;
//! `health` = `degraded` makes `health` report degraded.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;

use sinkbox_guest::{
    Batch, Config, DroppedRecords, FlushOutcome, HealthStatus, PartialWrite, PerRecord, Sink,
    WriteOutcome, log,
};

struct OutcomeSink {
    out: Option<File>,
    seen: HashSet<u64>,
    throttled: HashSet<u64>,
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

impl OutcomeSink {
    /// The contract 0.2 answers, when a record asks for one.
    fn answer_per_record(
        &mut self,
        batch: &Batch,
        records: &[&[u8]],
        first_time: bool,
    ) -> Option<WriteOutcome> {
        let markers: Vec<Option<&str>> = records.iter().map(|r| marker(r)).collect();
        let asks = |name: &str| markers.contains(&Some(name));
        let stored = |sink: &mut Self, records: &[&[u8]], answer: WriteOutcome| {
            Some(
                sink.accept(records)
                    .map_or_else(WriteOutcome::Retryable, |()| answer),
            )
        };
        if asks("many_ranges") {
            let reason = format!("\u{1b}[2J{}\n", "x".repeat(10_000));
            let mut answer = PerRecord::new();
            for i in 0..records.len() as u32 * 10 {
                answer = answer.rejected(i / 10..i / 10 + 1, reason.clone());
            }
            return Some(answer.into());
        }
        if asks("dropped") {
            let answer = WriteOutcome::Dropped(DroppedRecords {
                count: 1,
                reason: "the destination dropped one".into(),
            });
            return stored(self, records, answer);
        }
        if asks("indeterminate_once") {
            let answer = if first_time {
                WriteOutcome::Indeterminate("timed out after sending".into())
            } else {
                WriteOutcome::Accepted
            };
            return stored(self, records, answer);
        }
        if asks("warning") {
            return stored(
                self,
                records,
                WriteOutcome::Warning("near the quota".into()),
            );
        }
        if !asks("refuse_me") && !asks("throttle_once") {
            return None;
        }
        let mut answer = PerRecord::new();
        let mut kept = Vec::new();
        for (i, record) in records.iter().enumerate() {
            let sequence = batch.first_sequence() + i as u64;
            let at = i as u32;
            match markers[i] {
                Some("refuse_me") => {
                    answer = answer.rejected(at..at + 1, format!("refused record {sequence}"));
                }
                Some("throttle_once") if self.throttled.insert(sequence) => {
                    answer = answer
                        .retryable(at..at + 1, "throttled")
                        .retry_after(std::time::Duration::from_millis(10));
                }
                _ => kept.push(*record),
            }
        }
        stored(self, &kept, answer.into())
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
            throttled: HashSet::new(),
            degraded: config.get("health") == Some("degraded"),
            flushes: 0,
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let records: Vec<&[u8]> = batch.records().collect();
        let first_time = self.seen.insert(batch.first_sequence());
        if let Some(answer) = self.answer_per_record(&batch, &records, first_time) {
            return answer;
        }
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
