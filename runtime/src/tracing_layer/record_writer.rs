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

thread_local! {
    /// [`needs_map`] answers by callsite (its metadata's address), so a hot
    /// callsite checks its field names once per thread.
    static NEEDS_MAP: [std::cell::Cell<(usize, bool)>; 64] =
        const { [const { std::cell::Cell::new((0, false)) }; 64] };
}

/// [`needs_map`] for an event's metadata, remembered per callsite.
pub(crate) fn callsite_needs_map(meta: &'static tracing::Metadata<'static>) -> bool {
    let key = meta as *const _ as usize;
    let slot = (key >> 4) % 64;
    NEEDS_MAP.with(|cache| {
        let (cached_key, cached) = cache[slot].get();
        if cached_key == key {
            return cached;
        }
        let answer = needs_map(meta.fields());
        cache[slot].set((key, answer));
        answer
    })
}

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
    // Most strings need no escape: one scan (without early exit, so it
    // vectorises) and one copy.
    let needs_escape = value.bytes().fold(false, |acc, b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if needs_escape {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(out, value);
    } else {
        out.reserve(value.len() + 2);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }
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
