// The tag sink, shared by `tag-sink-v1` and `tag-sink-v2`, which differ only
// in `VERSION`: appends every record to `/data/v<VERSION>.ndjson`, so a test
// can tell which module delivered it. Option `refuse_version = "<n>"` makes
// version n refuse to start.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};

use sinkbox_guest::{Batch, Config, FlushOutcome, Sink, WriteOutcome};

struct TagSink {
    out: BufWriter<File>,
}

impl Sink for TagSink {
    fn start(config: Config) -> Result<Self, String> {
        if config.get("refuse_version") == Some(VERSION.to_string().as_str()) {
            return Err(format!("version {VERSION} is told to refuse to start"));
        }
        let path = format!("/data/v{VERSION}.ndjson");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot open {path}: {e}"))?;
        Ok(TagSink {
            out: BufWriter::new(file),
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        match self.out.write_all(batch.bytes()) {
            Ok(()) => WriteOutcome::Accepted,
            Err(err) => WriteOutcome::Retryable(err.to_string()),
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        match self.out.flush() {
            Ok(()) => FlushOutcome::Done,
            Err(err) => FlushOutcome::Retryable(err.to_string()),
        }
    }

    fn stop(&mut self) {
        let _ = self.out.flush();
    }
}

sinkbox_guest::export_sink!(TagSink);
