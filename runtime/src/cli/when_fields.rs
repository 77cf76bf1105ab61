//! For `sinkbox route`: the fields each sink's `when` reads that no record
//! of the sample has. A misspelt field (`levle`) matches nothing and
//! passes `validate`; a sample shows it.

use std::collections::BTreeSet;
use std::sync::Arc;

use sinkbox::Condition;
use sinkbox::config::Config;

/// The most distinct field paths kept from the sample, for suggestions.
const MAX_PATHS: usize = 10_000;

/// How deep into nested objects the sample's paths are collected.
const MAX_DEPTH: usize = 4;

/// The `when` conditions of a configuration, and which of their fields the
/// records seen so far had.
pub struct WhenFields {
    conditions: Vec<(String, Arc<Condition>, Vec<bool>)>,
    /// Dotted paths of the fields the records had, for "did you mean".
    paths: BTreeSet<String>,
}

impl WhenFields {
    /// Every sink's `when` in `config`, nothing seen yet.
    pub fn new(config: &Config) -> Self {
        let conditions = config
            .sinks
            .iter()
            .filter_map(|sink| {
                let when = sink.settings.when.clone()?;
                let seen = vec![false; when.field_names().len()];
                Some((sink.name.clone(), when, seen))
            })
            .collect();
        Self {
            conditions,
            paths: BTreeSet::new(),
        }
    }

    /// Notes the fields `record` (one JSON record) has.
    pub fn see(&mut self, record: &[u8]) {
        for (_, when, seen) in &mut self.conditions {
            for (seen, present) in seen.iter_mut().zip(when.fields_present(record)) {
                *seen |= present;
            }
        }
        if self.paths.len() < MAX_PATHS
            && let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(record)
        {
            collect_paths(&object, "", 1, &mut self.paths);
        }
    }

    /// One warning per field a condition reads that no record had, with
    /// the closest field the records did have.
    pub fn never_seen(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (sink, when, seen) in &self.conditions {
            for (field, seen) in when.field_names().iter().zip(seen) {
                if *seen {
                    continue;
                }
                let hint =
                    sinkbox::registry::did_you_mean(field, self.paths.iter().map(String::as_str))
                        .map(|close| format!(" (did you mean `{close}`?)"))
                        .unwrap_or_default();
                out.push(format!(
                    "sink `{sink}`: its when (`{}`) reads the field `{field}`, which no record of the sample has{hint}; check its spelling",
                    when.text()
                ));
            }
        }
        out
    }
}

fn collect_paths(
    object: &serde_json::Map<String, serde_json::Value>,
    above: &str,
    depth: usize,
    out: &mut BTreeSet<String>,
) {
    for (key, value) in object {
        if out.len() >= MAX_PATHS {
            return;
        }
        let path = if above.is_empty() {
            key.clone()
        } else {
            format!("{above}.{key}")
        };
        if let (serde_json::Value::Object(inner), true) = (value, depth < MAX_DEPTH) {
            collect_paths(inner, &path, depth + 1, out);
        }
        out.insert(path);
    }
}
