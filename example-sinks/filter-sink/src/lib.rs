//! A level/field filter: appends the records that pass to a file in its
//! granted directory.
//!
//! Options (the sink's `config` table):
//! - `min_level`: lowest level kept: trace, debug, info, warn, error (default `info`);
//! - `level_field`: the field holding the level (default `level`);
//! - `field` and `equals`: keep only records whose `field` equals `equals`
//!   (compared as text; both or neither);
//! - `path`: the output file, inside the granted directory (default
//!   `/data/filtered.ndjson`).

use std::fs::{File, OpenOptions};
use std::io::Write;

use serde_json::Value;
use sinkbox_guest::{Batch, Config, FlushOutcome, HealthStatus, Sink, WriteOutcome, log};

const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error"];
const OPTIONS: &[&str] = &["min_level", "level_field", "field", "equals", "path"];

struct FilterSink {
    min_level: usize,
    level_field: String,
    /// The field, the expected text, and that text parsed as JSON (so
    /// `equals = "500"` matches the number 500 without formatting every record).
    matcher: Option<(String, String, Option<Value>)>,
    path: String,
    file: File,
    seen: u64,
    kept: u64,
    malformed: u64,
    unsynced: bool,
}

fn level_rank(level: &str) -> Option<usize> {
    let level = level.to_ascii_lowercase();
    let level = match level.as_str() {
        "warning" => "warn",
        "fatal" | "critical" => "error",
        other => other,
    };
    LEVELS.iter().position(|l| *l == level)
}

impl FilterSink {
    fn keeps(&self, record: &Value) -> bool {
        let level_ok = match record.get(&self.level_field).and_then(Value::as_str) {
            Some(level) => level_rank(level).is_some_and(|rank| rank >= self.min_level),
            // Records without a level pass only when every level passes.
            None => self.min_level == 0,
        };
        let field_ok = match &self.matcher {
            None => true,
            Some((field, text, json)) => match record.get(field) {
                Some(Value::String(s)) => s == text,
                Some(other) => json.as_ref() == Some(other),
                None => false,
            },
        };
        level_ok && field_ok
    }

    fn report(&self, when: &str) {
        log::info(&format!(
            "{when}: kept {} of {} records, {} malformed, output {}",
            self.kept, self.seen, self.malformed, self.path
        ));
    }
}

impl Sink for FilterSink {
    fn start(config: Config) -> Result<Self, String> {
        let unknown = config.unknown_keys(OPTIONS);
        if !unknown.is_empty() {
            return Err(format!(
                "unknown option(s) {unknown:?}; valid options: {OPTIONS:?}"
            ));
        }
        let min_level_text = config.get_or("min_level", "info");
        let min_level = level_rank(min_level_text).ok_or_else(|| {
            format!("min_level = `{min_level_text}` is not a level; use one of {LEVELS:?}")
        })?;
        let matcher = match (config.get("field"), config.get("equals")) {
            (Some(field), Some(value)) => Some((
                field.to_owned(),
                value.to_owned(),
                serde_json::from_str(value).ok(),
            )),
            (None, None) => None,
            _ => return Err("set both `field` and `equals`, or neither".into()),
        };
        let path = config.get_or("path", "/data/filtered.ndjson").to_owned();
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| {
            format!("cannot open `{path}`: {e}; grant the sink a directory (`grant = {{ path = \"...\" }}`) and point `path` inside its guest path")
        })?;
        Ok(FilterSink {
            min_level,
            level_field: config.get_or("level_field", "level").to_owned(),
            matcher,
            path,
            file,
            seen: 0,
            kept: 0,
            malformed: 0,
            unsynced: false,
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let mut out = Vec::with_capacity(batch.bytes().len());
        let (mut kept, mut malformed) = (0, 0);
        for record in batch.records() {
            match serde_json::from_slice::<Value>(record) {
                Ok(value) if self.keeps(&value) => {
                    out.extend_from_slice(record);
                    out.push(b'\n');
                    kept += 1;
                }
                Ok(_) => {}
                Err(_) => malformed += 1,
            }
        }
        // One write per batch: a failure leaves nothing half-counted.
        if let Err(e) = self.file.write_all(&out) {
            return WriteOutcome::Retryable(format!("cannot append to {}: {e}", self.path));
        }
        self.seen += u64::from(batch.len());
        self.kept += kept;
        self.malformed += malformed;
        self.unsynced |= !out.is_empty();
        WriteOutcome::Accepted
    }

    fn flush(&mut self) -> FlushOutcome {
        if self.unsynced {
            if let Err(e) = self.file.sync_data() {
                return FlushOutcome::Retryable(format!("cannot sync {}: {e}", self.path));
            }
            self.unsynced = false;
            self.report("flush");
        }
        FlushOutcome::Done
    }

    fn stop(&mut self) {
        self.report("stop");
    }

    fn health(&mut self) -> HealthStatus {
        HealthStatus::Healthy
    }
}

sinkbox_guest::export_sink!(FilterSink);
