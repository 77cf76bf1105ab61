//! `sinkbox dead-letters list`: per sink, what its dead-letter files hold.

use std::path::Path;

use super::files::{dead_letter_dir, files_of, sinks_in};
use crate::pipeline::read_dead_letter_batches;

/// The most distinct reasons kept per sink, most records first.
const MAX_REASONS: usize = 5;

/// The longest a reason is shown, in characters.
const MAX_REASON_CHARS: usize = 200;

/// What one sink's dead-letter files hold.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SinkDeadLetters {
    /// The sink that could not deliver them.
    pub sink: String,
    /// Its dead-letter files.
    pub files: usize,
    /// Batches in them.
    pub batches: u64,
    /// Records in them.
    pub records: u64,
    /// The commonest reasons, each with its record count, most records
    /// first; each reason cut to 200 characters, control characters
    /// escaped.
    pub reasons: Vec<(String, u64)>,
    /// When the oldest batch was dead-lettered (RFC 3339).
    pub oldest: Option<String>,
}

/// Every sink's dead letters under `data_dir`, by sink name.
pub fn list(data_dir: &Path) -> std::io::Result<Vec<SinkDeadLetters>> {
    let dir = dead_letter_dir(data_dir);
    let mut out = Vec::new();
    for sink in sinks_in(&dir)? {
        let files = files_of(&dir, &sink)?;
        let mut entry = SinkDeadLetters {
            sink: sink.clone(),
            files: files.len(),
            batches: 0,
            records: 0,
            reasons: Vec::new(),
            oldest: None,
        };
        let mut reasons: Vec<(String, u64)> = Vec::new();
        for file in &files {
            for batch in read_dead_letter_batches(file)? {
                let records = batch.records.len() as u64;
                entry.batches += 1;
                entry.records += records;
                if entry
                    .oldest
                    .as_ref()
                    .is_none_or(|oldest| batch.at < *oldest)
                {
                    entry.oldest = Some(batch.at.clone());
                }
                let reason = shown(&batch.reason);
                match reasons.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, n)) => *n += records,
                    None => reasons.push((reason, records)),
                }
            }
        }
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        reasons.truncate(MAX_REASONS);
        entry.reasons = reasons;
        out.push(entry);
    }
    Ok(out)
}

/// A reason as it may be printed: cut, with control characters escaped
/// (a reason may quote a guest or a server).
fn shown(reason: &str) -> String {
    let mut out = String::new();
    for (i, c) in reason.chars().enumerate() {
        if i == MAX_REASON_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_reason_is_cut_and_escaped() {
        assert_eq!(super::shown("a\u{1b}[2J\nb"), "a\\u{1b}[2J\\nb");
        let long = "x".repeat(500);
        assert_eq!(super::shown(&long).chars().count(), 201);
    }
}
