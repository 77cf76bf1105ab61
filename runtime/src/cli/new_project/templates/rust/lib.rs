//! {{name}}: a sinkbox sink. It appends every record that is a JSON
//! object to a file in the directory the operator granted it, one line
//! each, and refuses any other record on its own (the host dead-letters
//! it with the reason). Replace `write` with what your sink does.
//!
//! Options (the sink's `config` table, or `--config key=value`):
//! - `path`: the output file, inside the grant (default `/data/out.ndjson`).

use std::fs::{File, OpenOptions};
use std::io::Write;

use sinkbox_guest::{Batch, Config, FlushOutcome, HealthStatus, PerRecord, Sink, WriteOutcome, log};

const OPTIONS: &[&str] = &["path"];

struct MySink {
    path: String,
    file: File,
    written: u64,
}

impl Sink for MySink {
    fn start(config: Config) -> Result<Self, String> {
        let unknown = config.unknown_keys(OPTIONS);
        if !unknown.is_empty() {
            return Err(format!("unknown option(s) {unknown:?}; valid options: {OPTIONS:?}"));
        }
        let path = config.get_or("path", "/data/out.ndjson").to_owned();
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| {
            format!("cannot open `{path}`: {e}; grant the sink a directory and point `path` inside it")
        })?;
        Ok(MySink { path, file, written: 0 })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let mut out = Vec::with_capacity(batch.bytes().len());
        let mut answer = PerRecord::new();
        let mut refused = false;
        for (i, record) in (0u32..).zip(batch.records()) {
            // A record is one JSON value; this sink takes objects only.
            if record.first() == Some(&b'{') {
                out.extend_from_slice(record);
                out.push(b'\n');
            } else {
                answer = answer.rejected(i..i + 1, "not a JSON object");
                refused = true;
            }
        }
        // One write per batch: a failure leaves nothing half-written.
        if let Err(e) = self.file.write_all(&out) {
            return WriteOutcome::Retryable(format!("cannot append to {}: {e}", self.path));
        }
        self.written += u64::from(batch.len());
        if refused { answer.into() } else { WriteOutcome::Accepted }
    }

    fn flush(&mut self) -> FlushOutcome {
        if let Err(e) = self.file.sync_data() {
            return FlushOutcome::Retryable(format!("cannot sync {}: {e}", self.path));
        }
        log::info(&format!("{} record(s) so far in {}", self.written, self.path));
        FlushOutcome::Done
    }

    fn stop(&mut self) {}

    fn health(&mut self) -> HealthStatus {
        HealthStatus::Healthy
    }
}

sinkbox_guest::export_sink!(MySink);
