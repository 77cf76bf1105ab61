//! Writes a `tracing` event's record as JSON straight from the `Visit`
//! callbacks: no map, no string per field.
//!
//! The record is the same as the map-built one would be
//! (`{"timestamp","level","target",<fields in order>}`, strings escaped as
//! `serde_json` escapes them, non-finite floats as `null`) as long as no
//! field repeats a name or is called `timestamp`, `level` or `target`;
//! [`needs_map`] tells the layer when it must build the map instead.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};

/// The keys the layer writes itself, ahead of the event's fields.
const OWN_KEYS: [&str; 3] = ["timestamp", "level", "target"];

/// Whether the callsite's fields need the map's rules (a repeated name, or a
/// field that shares a name with one of the layer's own keys).
pub(crate) fn needs_map(fields: &tracing::field::FieldSet) -> bool {
    // tracing allows at most 32 fields per callsite.
    let mut seen: [&str; 32] = [""; 32];
    for (n, field) in fields.iter().enumerate() {
        let name = field.name();
        if n >= seen.len() || OWN_KEYS.contains(&name) || seen[..n].contains(&name) {
            return true;
        }
        seen[n] = name;
    }
    false
}

/// Appends `value` as a JSON string, escaped exactly as `serde_json` does.
pub(crate) fn write_json_str(out: &mut Vec<u8>, value: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(out, value);
}

/// A `Visit` that appends `,"name":value` for every field to `out`.
pub(crate) struct RecordWriter<'a> {
    pub out: &'a mut Vec<u8>,
    /// Reused for fields given as `Debug` values, so none allocates.
    pub scratch: &'a mut String,
}

impl RecordWriter<'_> {
    fn key(&mut self, field: &Field) {
        self.out.push(b',');
        write_json_str(self.out, field.name());
        self.out.push(b':');
    }
}

impl Visit for RecordWriter<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.key(field);
        self.scratch.clear();
        let _ = write!(self.scratch, "{value:?}");
        write_json_str(self.out, self.scratch);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        write_json_str(self.out, value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = serde_json::to_writer(&mut *self.out, &value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = serde_json::to_writer(&mut *self.out, &value);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        // serde_json writes non-finite floats as null.
        let _ = serde_json::to_writer(&mut *self.out, &value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }
}
