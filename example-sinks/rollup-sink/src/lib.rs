//! Rolls records up into per-minute counts by level and by one configured
//! field, and writes the summary as JSON to the granted directory on every
//! flush and on stop: the Rust twin of `rollup-sink-js` and
//! `rollup-sink-py`, with the same options and byte-for-byte the same output.
//!
//! Options (all optional): `by` (default `route`), `time_field` (an
//! ISO-8601 time, default `ts`), `path` (inside the grant, default
//! `/data/summary.json`).
//!
//! A record that is not a JSON object is counted as malformed and skipped; a
//! batch with no usable record at all is rejected.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sinkbox_guest::{Batch, Config, FlushOutcome, Sink, WriteOutcome, log};

const OPTIONS: &[&str] = &["by", "time_field", "path"];

#[derive(Default)]
struct Minute {
    levels: BTreeMap<String, u64>,
    values: BTreeMap<String, u64>,
}

struct RollupSink {
    by: String,
    time_field: String,
    path: String,
    minutes: BTreeMap<String, Minute>,
    records: u64,
    malformed: u64,
}

/// `2026-11-22T10:03:17Z` -> `2026-11-22T10:03`; anything else is `unknown`.
fn minute_of(time: Option<&Value>) -> String {
    let Some(Value::String(text)) = time else {
        return "unknown".into();
    };
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| range.into_iter().all(|i| b[i].is_ascii_digit());
    if b.len() >= 16
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
    {
        text[..16].to_owned()
    } else {
        "unknown".into()
    }
}

fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "none".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl RollupSink {
    fn write_summary(&self) -> std::io::Result<()> {
        let minutes: BTreeMap<&String, Value> = self
            .minutes
            .iter()
            .map(|(minute, m)| (minute, json!({ "levels": m.levels, "values": m.values })))
            .collect();
        let summary = json!({
            "by": self.by,
            "malformed": self.malformed,
            "minutes": minutes,
            "records": self.records,
        });
        let mut bytes = serde_json::to_vec(&summary).expect("a Value serializes");
        bytes.push(b'\n');
        std::fs::write(&self.path, bytes)
    }
}

impl Sink for RollupSink {
    fn start(config: Config) -> Result<Self, String> {
        let mut unknown = config.unknown_keys(OPTIONS);
        if !unknown.is_empty() {
            unknown.sort();
            return Err(format!(
                "unknown option(s) {unknown:?}; valid options: {OPTIONS:?}"
            ));
        }
        let path = config.get_or("path", "/data/summary.json").to_owned();
        let sink = RollupSink {
            by: config.get_or("by", "route").to_owned(),
            time_field: config.get_or("time_field", "ts").to_owned(),
            path,
            minutes: BTreeMap::new(),
            records: 0,
            malformed: 0,
        };
        sink.write_summary().map_err(|e| {
            format!("cannot write `{}`: {e}; grant the sink a directory (grant = {{ path = \"...\" }}) for its summary", sink.path)
        })?;
        Ok(sink)
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let (mut usable, mut malformed) = (0u64, 0u64);
        for record in batch.records() {
            let Ok(Value::Object(record)) = serde_json::from_slice::<Value>(record) else {
                malformed += 1;
                continue;
            };
            usable += 1;
            let minute = self
                .minutes
                .entry(minute_of(record.get(&self.time_field)))
                .or_default();
            let level = match record.get("level") {
                Some(Value::String(level)) => level.to_lowercase(),
                _ => "none".into(),
            };
            *minute.levels.entry(level).or_default() += 1;
            *minute.values.entry(text(record.get(&self.by))).or_default() += 1;
        }
        self.malformed += malformed;
        self.records += usable;
        if usable == 0 && malformed > 0 {
            return WriteOutcome::Rejected(format!(
                "none of the {malformed} record(s) is a JSON object"
            ));
        }
        WriteOutcome::Accepted
    }

    fn flush(&mut self) -> FlushOutcome {
        if let Err(e) = self.write_summary() {
            return FlushOutcome::Retryable(format!("cannot write {}: {e}", self.path));
        }
        log::info(&format!(
            "summarised {} record(s) over {} minute(s); {} malformed record(s) skipped",
            self.records,
            self.minutes.len(),
            self.malformed
        ));
        FlushOutcome::Done
    }

    fn stop(&mut self) {
        if let Err(e) = self.write_summary() {
            log::warn(&format!("cannot write {} on stop: {e}", self.path));
        }
    }
}

sinkbox_guest::export_sink!(RollupSink);
