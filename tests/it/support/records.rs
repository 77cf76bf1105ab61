//! Records in and out: numbered records, the lines of a file, the
//! numbers they carry, and dead letters read back.

use std::path::Path;

/// The lines of a file, or none if it does not exist.
pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// `n` compact JSON records `{"i":<start+k>,"level":"info"}`, plus `extra`
/// fields spliced into the record at `marker_at`.
pub fn records(start: usize, n: usize, marker_at: Option<usize>, extra: &str) -> Vec<String> {
    (start..start + n)
        .map(|i| {
            if Some(i) == marker_at {
                format!(r#"{{"i":{i},"level":"info",{extra}}}"#)
            } else {
                format!(r#"{{"i":{i},"level":"info"}}"#)
            }
        })
        .collect()
}

/// The `"i"` field of each JSON line: which numbered records arrived.
pub fn numbers(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            value["i"].as_u64().unwrap() as usize
        })
        .collect()
}

/// Emits the numbered records `{"i":n}` for every n in `range`.
pub fn emit_numbered(pipeline: &sinkbox::Pipeline, range: std::ops::Range<usize>) {
    for i in range {
        pipeline
            .emit_json(format!(r#"{{"i":{i}}}"#).as_bytes())
            .unwrap();
    }
}

/// The records of a dead-letter file, each as
/// `{"sink", "reason", "sequence", "at", "record"}` (its batch's header
/// joined in); none if the file does not exist.
pub fn dead_letters(path: &Path) -> Vec<serde_json::Value> {
    if !path.exists() {
        return Vec::new();
    }
    sinkbox::pipeline::read_dead_letters(path)
        .unwrap()
        .into_iter()
        .map(|letter| {
            serde_json::json!({
                "sink": letter.sink,
                "reason": letter.reason,
                "sequence": letter.sequence,
                "at": letter.at,
                "record": letter.record,
            })
        })
        .collect()
}
