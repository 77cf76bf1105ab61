//! Redacts secrets from every record and writes the result to the granted
//! directory: the Rust twin of `redact-sink-py` and `redact-sink-js`, with
//! the same options and byte-for-byte the same output.
//!
//! Options (all optional): `fields` (comma-separated names masked at any
//! depth, case-insensitively; default `password,passwd,secret,token,api_key,authorization`),
//! `mask` (default `[REDACTED]`), `redact_cards` (`true` or `false`, default
//! `true`: mask Luhn-valid runs of 13 to 19 digits, optionally separated by
//! single spaces or dashes), `path` (default `/data/redacted.ndjson`).
//!
//! A record that is not a JSON object is refused on its own (contract 0.2's
//! `per-record`: the host dead-letters it, reason `not a JSON object`) and
//! counted as malformed; a batch with no usable record at all is rejected.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};

use serde_json::Value;
use sinkbox_guest::{Batch, Config, FlushOutcome, PerRecord, Sink, WriteOutcome, log};

const OPTIONS: &[&str] = &["fields", "mask", "redact_cards", "path"];
const DEFAULT_FIELDS: &str = "password,passwd,secret,token,api_key,authorization";

struct RedactSink {
    fields: Vec<String>,
    mask: String,
    cards: bool,
    path: String,
    out: BufWriter<File>,
    records: u64,
    fields_masked: u64,
    cards_masked: u64,
    malformed: u64,
}

fn luhn_ok(digits: &[u8]) -> bool {
    let mut total = 0;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut n = u32::from(d - b'0');
        if i % 2 == 1 {
            n *= 2;
            if n > 9 {
                n -= 9;
            }
        }
        total += n;
    }
    total % 10 == 0
}

/// The end (exclusive) of a card-number-looking run starting at `start`,
/// as the regex `(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])` would find
/// it, with the run's digits.
fn card_at(text: &[u8], start: usize) -> Option<(usize, Vec<u8>)> {
    if start > 0 && text[start - 1].is_ascii_digit() {
        return None;
    }
    // Positions of the digits the run can take, greedily, up to 19.
    let mut digits = vec![start];
    let mut at = start;
    while digits.len() < 19 {
        let next = at + 1;
        if next < text.len() && text[next].is_ascii_digit() {
            at = next;
        } else if next + 1 < text.len()
            && (text[next] == b' ' || text[next] == b'-')
            && text[next + 1].is_ascii_digit()
        {
            at = next + 1;
        } else {
            break;
        }
        digits.push(at);
    }
    // Backtrack to the longest run not followed by a digit.
    for count in (13..=digits.len()).rev() {
        let end = digits[count - 1] + 1;
        if end >= text.len() || !text[end].is_ascii_digit() {
            let run = digits[..count].iter().map(|&i| text[i]).collect();
            return Some((end, run));
        }
    }
    None
}

impl RedactSink {
    fn redact_cards(&mut self, text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let (mut copied, mut at) = (0, 0);
        while at < bytes.len() {
            if bytes[at].is_ascii_digit()
                && let Some((end, digits)) = card_at(bytes, at)
            {
                if luhn_ok(&digits) {
                    out.push_str(&text[copied..at]);
                    out.push_str(&self.mask);
                    copied = end;
                    self.cards_masked += 1;
                }
                at = end;
                continue;
            }
            at += 1;
        }
        out.push_str(&text[copied..]);
        out
    }

    fn redact(&mut self, value: Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(key, inner)| {
                        if self.fields.contains(&key.to_lowercase()) {
                            self.fields_masked += 1;
                            (key, Value::String(self.mask.clone()))
                        } else {
                            let inner = self.redact(inner);
                            (key, inner)
                        }
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.redact(v)).collect())
            }
            Value::String(text) if self.cards => Value::String(self.redact_cards(&text)),
            other => other,
        }
    }
}

impl Sink for RedactSink {
    fn start(config: Config) -> Result<Self, String> {
        let mut unknown = config.unknown_keys(OPTIONS);
        if !unknown.is_empty() {
            unknown.sort();
            return Err(format!(
                "unknown option(s) {unknown:?}; valid options: {OPTIONS:?}"
            ));
        }
        let cards = match config.get_or("redact_cards", "true") {
            "true" => true,
            "false" => false,
            other => return Err(format!("redact_cards = `{other}`: expected true or false")),
        };
        let path = config.get_or("path", "/data/redacted.ndjson").to_owned();
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| {
            format!("cannot open `{path}`: {e}; grant the sink a directory (grant = {{ path = \"...\" }}) and point `path` inside it")
        })?;
        Ok(RedactSink {
            fields: config
                .get_or("fields", DEFAULT_FIELDS)
                .split(',')
                .map(|f| f.trim().to_lowercase())
                .filter(|f| !f.is_empty())
                .collect(),
            mask: config.get_or("mask", "[REDACTED]").to_owned(),
            cards,
            path,
            out: BufWriter::new(file),
            records: 0,
            fields_masked: 0,
            cards_masked: 0,
            malformed: 0,
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let mut out = Vec::with_capacity(batch.bytes().len());
        let (mut usable, mut malformed) = (0u64, 0u64);
        let mut answer = PerRecord::new();
        for (i, record) in batch.records().enumerate() {
            match serde_json::from_slice::<Value>(record) {
                Ok(value @ Value::Object(_)) => {
                    let redacted = self.redact(value);
                    serde_json::to_writer(&mut out, &redacted).expect("a Value serializes");
                    out.push(b'\n');
                    usable += 1;
                }
                _ => {
                    malformed += 1;
                    answer = answer.rejected(i as u32..i as u32 + 1, "not a JSON object");
                }
            }
        }
        self.malformed += malformed;
        if usable == 0 && malformed > 0 {
            return WriteOutcome::Rejected(format!(
                "none of the {malformed} record(s) is a JSON object"
            ));
        }
        if let Err(e) = self.out.write_all(&out) {
            return WriteOutcome::Retryable(format!("cannot write `{}`: {e}", self.path));
        }
        self.records += usable;
        answer.into()
    }

    fn flush(&mut self) -> FlushOutcome {
        if let Err(e) = self.out.flush() {
            return FlushOutcome::Retryable(format!("cannot flush `{}`: {e}", self.path));
        }
        log::info(&format!(
            "redacted {} field(s) and {} card number(s) in {} record(s); {} malformed record(s) refused",
            self.fields_masked, self.cards_masked, self.records, self.malformed
        ));
        FlushOutcome::Done
    }

    fn stop(&mut self) {
        let _ = self.out.flush();
    }
}

sinkbox_guest::export_sink!(RedactSink);
