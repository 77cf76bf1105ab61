//! The few fields a sink needs (Loki's labels and time, a column, a
//! subject), read from a record's raw JSON bytes in one pass of the
//! routing scanner, without parsing the record whole. Only the values used
//! are decoded. A field is looked up as `record_field` does: a top-level
//! key as written first (`"service.name"`), else the dotted path
//! (`{"service":{"name":…}}`).

use std::borrow::Cow;

use super::record_time::{TimeReader, nanos_from_number, nanos_from_raw, nanos_from_text};
use crate::routing::field_scan::FieldTree;
use crate::routing::field_value::FieldValue;

/// Finds a fixed list of fields in records.
#[derive(Clone, Debug)]
pub(crate) struct FieldReader {
    tree: FieldTree,
    /// Per field: its slot as one key, and as a dotted path if it has dots.
    slots: Vec<(usize, Option<usize>)>,
}

/// The fields of one record, as found (borrowing the record). Reused from
/// record to record of one batch.
#[derive(Debug, Default)]
pub(crate) struct FoundFields<'a> {
    values: Vec<FieldValue<'a>>,
    spans: Vec<&'a [u8]>,
}

/// One field of one record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field<'f, 'a> {
    /// Borrowed from the found fields, not copied: a copy of the enum is
    /// written piecewise and read whole, which stalls the reads right
    /// after it.
    value: &'f FieldValue<'a>,
    /// The value's bytes as written in the record.
    span: &'a [u8],
}

impl FieldReader {
    /// A reader for `fields`, in that order.
    pub fn new<S: AsRef<str>>(fields: &[S]) -> Self {
        let mut paths: Vec<Vec<String>> = Vec::new();
        let mut slots = Vec::with_capacity(fields.len());
        for field in fields {
            let field = field.as_ref();
            let flat = paths.len();
            paths.push(vec![field.to_owned()]);
            let dotted = field.contains('.').then(|| {
                paths.push(field.split('.').map(str::to_owned).collect());
                paths.len() - 1
            });
            slots.push((flat, dotted));
        }
        Self {
            tree: FieldTree::new(&paths),
            slots,
        }
    }

    /// Finds the fields in `record`, into `found` (its earlier contents
    /// dropped).
    pub fn read<'a>(&self, record: &'a [u8], found: &mut FoundFields<'a>) {
        let slots = self.tree.slots();
        found.values.clear();
        found.values.resize(slots, FieldValue::Missing);
        found.spans.clear();
        found.spans.resize(slots, b"");
        self.tree
            .scan_with_spans(record, &mut found.values, &mut found.spans);
    }

    /// Field `index` (in the order given to [`Self::new`]) of the record
    /// last read into `found`.
    pub fn field<'f, 'a>(&self, found: &'f FoundFields<'a>, index: usize) -> Field<'f, 'a> {
        let (flat, dotted) = self.slots[index];
        let slot = match (found.values.get(flat), dotted) {
            (Some(FieldValue::Missing), Some(dotted)) => dotted,
            _ => flat,
        };
        Field {
            value: found.values.get(slot).unwrap_or(&FieldValue::Missing),
            span: found.spans.get(slot).copied().unwrap_or_default(),
        }
    }
}

impl<'a> Field<'_, 'a> {
    /// Whether the record has the field.
    pub fn is_missing(&self) -> bool {
        *self.value == FieldValue::Missing
    }

    /// The value's bytes as written in the record (a string without its
    /// quotes, still escaped), and whether it was found: a cheap key for
    /// "same value as before" (two spellings of one string differ).
    pub fn raw(&self) -> Option<&'a [u8]> {
        match *self.value {
            FieldValue::Missing => None,
            FieldValue::Str { raw, .. } => Some(raw),
            _ => Some(self.span),
        }
    }

    /// The value as written and whether it is a string (`None` when the
    /// record lacks it): equal for two records when their values are
    /// spelled alike, the cheap test of "same as the previous record"
    /// (the string `"1"` and the number `1` differ).
    pub fn spelling(&self) -> Option<(bool, &'a [u8])> {
        self.raw().map(|raw| (self.is_string(), raw))
    }

    /// Whether the field is a string.
    pub fn is_string(&self) -> bool {
        matches!(*self.value, FieldValue::Str { .. })
    }

    /// Whether the field is JSON `null`.
    pub fn is_null(&self) -> bool {
        *self.value == FieldValue::Null
    }

    /// The value as text: a string decoded, anything else as its JSON
    /// (`42`, `true`, `{"a":1}`). `None` when the record lacks it.
    pub fn text(&self) -> Option<Cow<'a, str>> {
        match *self.value {
            FieldValue::Missing => None,
            FieldValue::Str {
                raw,
                escaped: false,
            } => Some(utf8_text(raw)),
            FieldValue::Str { .. } => {
                let decoded = self.value.text()?.into_owned();
                Some(Cow::Owned(String::from_utf8_lossy(&decoded).into_owned()))
            }
            _ if self.span.is_empty() => None,
            _ => Some(utf8_text(self.span)),
        }
    }

    /// As [`unix_nanos`](Self::unix_nanos), through `times`, which
    /// remembers the last whole second read (for the records of a batch).
    pub fn unix_nanos_with(&self, times: &mut TimeReader) -> Option<u64> {
        match *self.value {
            FieldValue::Str {
                raw,
                escaped: false,
            } => times.nanos_from_raw(raw),
            _ => self.unix_nanos(),
        }
    }

    /// The value as a time, in nanoseconds since the Unix epoch: an RFC
    /// 3339 string, or a number of seconds, milliseconds, microseconds or
    /// nanoseconds (told apart by magnitude, whole numbers read exactly).
    pub fn unix_nanos(&self) -> Option<u64> {
        match *self.value {
            FieldValue::Number(n) => {
                let whole = std::str::from_utf8(self.span).ok()?.parse::<u64>().ok();
                nanos_from_number(n, whole)
            }
            FieldValue::Str {
                raw,
                escaped: false,
            } => nanos_from_raw(raw),
            FieldValue::Str { .. } => nanos_from_text(&self.text()?),
            _ => None,
        }
    }
}

/// `bytes` as text: borrowed when they are UTF-8 (the fast check: SIMD,
/// and its answer comes back in registers), else with each bad sequence
/// replaced.
pub(crate) fn utf8_text(bytes: &[u8]) -> Cow<'_, str> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::util::record_field::{field_text, record_field};
    use crate::sinks::util::record_time::unix_nanos;

    #[test]
    fn reads_what_a_full_parse_reads() {
        let fields = [
            "level",
            "service.name",
            "a.b",
            "n",
            "obj",
            "gone",
            "esc",
            "ts",
            "t2",
        ];
        let reader = FieldReader::new(&fields);
        for record in [
            r#"{"level":"warn","service.name":"flat","service":{"name":"nested"},"a":{"b":[1,2]},"n":42,"obj":{"x":true},"esc":"a\"b\u00e9","ts":1764583200500000001,"t2":"2025-12-01T10:00:00.5Z"}"#,
            r#"{"service":{"name":"only nested"},"a":{"b":null},"n":-1.5,"ts":1764583200.25,"t2":1764583200500}"#,
            r#"{"level":7,"a":"not an object","ts":"yesterday"}"#,
            r#""not an object""#,
        ] {
            let value: serde_json::Value = serde_json::from_str(record).unwrap();
            let mut found = FoundFields::default();
            reader.read(record.as_bytes(), &mut found);
            for (i, name) in fields.iter().enumerate() {
                let field = reader.field(&found, i);
                let expected = record_field(&value, name);
                assert_eq!(
                    field.text().map(Cow::into_owned),
                    expected.map(field_text),
                    "{name} of {record}"
                );
                assert_eq!(
                    field.unix_nanos(),
                    expected.and_then(unix_nanos),
                    "{name} of {record}"
                );
            }
        }
    }
}
