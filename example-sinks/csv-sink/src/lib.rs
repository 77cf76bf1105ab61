//! The Rust twin of `csv-sink-c`: the same options, answers and bytes
//! (a test holds them to it), so the C SDK can be measured against the
//! Rust SDK on the same work.
//!
//! Writes records as CSV rows into a file in the grant, one column per
//! configured field. Options: `columns` (default
//! `timestamp,level,message`), `path` (default `/data/records.csv`),
//! `max_bytes` (default: no limit). A header row when the file is new; a
//! string field unescaped, anything else as its JSON text, a missing field
//! empty; RFC 4180 quoting. A record that is not a JSON object is refused
//! alone; when the file reaches `max_bytes` the rows that fit stay and the
//! rest is retryable; a write the file system refuses after some rows is
//! `partial`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};

use serde_json::value::RawValue;
use sinkbox_guest::{
    Batch, Config, FlushOutcome, HealthStatus, PartialWrite, PerRecord, Sink, WriteOutcome, log,
};

const OPTIONS: &[&str] = &["columns", "path", "max_bytes"];
const MAX_COLUMNS: usize = 64;

struct CsvSink {
    columns: Vec<String>,
    path: String,
    /// Buffered as C's `FILE *` is: rows reach the file a buffer at a time
    /// and at the end of each batch.
    file: BufWriter<File>,
    size: u64,
    max_bytes: u64,
    rows: u64,
    refused: u64,
}

fn put_cell(row: &mut Vec<u8>, cell: &[u8]) {
    let quote = cell
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if !quote {
        row.extend_from_slice(cell);
        return;
    }
    row.push(b'"');
    for &b in cell {
        if b == b'"' {
            row.push(b'"');
        }
        row.push(b);
    }
    row.push(b'"');
}

impl CsvSink {
    fn put_row(&self, row: &mut Vec<u8>, fields: &HashMap<String, &RawValue>) {
        for (c, column) in self.columns.iter().enumerate() {
            if c > 0 {
                row.push(b',');
            }
            let Some(raw) = fields.get(column) else {
                continue;
            };
            let text = raw.get();
            if text.starts_with('"') {
                let unescaped: String = serde_json::from_str(text).unwrap_or_default();
                put_cell(row, unescaped.as_bytes());
            } else {
                put_cell(row, text.as_bytes());
            }
        }
        row.extend_from_slice(b"\r\n");
    }
}

impl Sink for CsvSink {
    fn start(config: Config) -> Result<Self, String> {
        if let Some(unknown) = config.unknown_keys(OPTIONS).first() {
            return Err(format!(
                "unknown option `{unknown}`; valid options: columns, path, max_bytes"
            ));
        }
        let listed = config.get_or("columns", "timestamp,level,message");
        let columns: Vec<String> = listed.split(',').map(str::to_owned).collect();
        if columns.iter().any(String::is_empty) || columns.len() > MAX_COLUMNS {
            return Err(format!(
                "columns = `{listed}`: give 1 to {MAX_COLUMNS} field names separated by single commas"
            ));
        }
        let max = config.get_or("max_bytes", "0");
        let max_bytes = max.parse::<u64>().map_err(|_| {
            format!("max_bytes = `{max}`: give a whole number of bytes, such as 10485760")
        })?;
        let path = config.get_or("path", "/data/records.csv").to_owned();
        let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| {
            format!("cannot open `{path}`: {e}; grant the sink a directory and point `path` inside it")
        })?;
        let mut size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            let mut header = Vec::new();
            for (c, column) in columns.iter().enumerate() {
                if c > 0 {
                    header.push(b',');
                }
                put_cell(&mut header, column.as_bytes());
            }
            header.extend_from_slice(b"\r\n");
            file.write_all(&header)
                .map_err(|e| format!("cannot write `{path}`: {e}"))?;
            size = header.len() as u64;
        }
        Ok(CsvSink {
            columns,
            path,
            file: BufWriter::new(file),
            size,
            max_bytes,
            rows: 0,
            refused: 0,
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let mut answer = PerRecord::new();
        let mut refused_any = false;
        let mut row = Vec::new();
        let count = batch.len();
        for (index, record) in (0u32..).zip(batch.records()) {
            let fields: Option<HashMap<String, &RawValue>> = serde_json::from_slice(record).ok();
            let Some(fields) = fields.filter(|_| record.first() == Some(&b'{')) else {
                answer = answer.rejected(index..index + 1, "not a JSON object");
                refused_any = true;
                self.refused += 1;
                continue;
            };
            row.clear();
            self.put_row(&mut row, &fields);
            if self.max_bytes > 0 && self.size + row.len() as u64 > self.max_bytes {
                let _ = self.file.flush();
                log::warn(&format!(
                    "{} reached max_bytes ({}): {} record(s) wait",
                    self.path,
                    self.max_bytes,
                    count - index
                ));
                return answer
                    .retryable(
                        index..count,
                        "the file reached max_bytes; rotate it to go on",
                    )
                    .into();
            }
            if let Err(e) = self.file.write_all(&row) {
                let reason = format!("cannot write `{}`: {e}", self.path);
                if refused_any {
                    return answer.retryable(index..count, reason).into();
                }
                return if index > 0 {
                    WriteOutcome::Partial(PartialWrite {
                        accepted: index,
                        reason,
                    })
                } else {
                    WriteOutcome::Retryable(reason)
                };
            }
            self.size += row.len() as u64;
            self.rows += 1;
        }
        if let Err(e) = self.file.flush() {
            return WriteOutcome::Retryable(format!("cannot write `{}`: {e}", self.path));
        }
        if refused_any {
            answer.into()
        } else {
            WriteOutcome::Accepted
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        if let Err(e) = self.file.flush() {
            return FlushOutcome::Retryable(e.to_string());
        }
        log::info(&format!(
            "{} row(s) in {}, {} record(s) refused",
            self.rows, self.path, self.refused
        ));
        FlushOutcome::Done
    }

    fn stop(&mut self) {}

    fn health(&mut self) -> HealthStatus {
        if self.max_bytes > 0 && self.size >= self.max_bytes {
            return HealthStatus::Degraded("the file reached max_bytes".into());
        }
        HealthStatus::Healthy
    }
}

sinkbox_guest::export_sink!(CsvSink);
