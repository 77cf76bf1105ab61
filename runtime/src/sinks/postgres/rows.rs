//! One record as one row: its time, level and message read from their
//! fields, the extra columns' fields as text, and the whole record as the
//! `event` JSONB column, in the COPY text format or as `INSERT` parameters.

use std::borrow::Cow;

use serde_json::Value;

use super::table::TableLayout;
use crate::sinks::util::record_field::{field_text, record_field};
use crate::sinks::util::record_time::unix_nanos;

/// Which fields fill the fixed columns.
#[derive(Clone, Debug)]
pub(crate) struct RowEncoder {
    timestamp_field: String,
    level_field: String,
    message_field: String,
    extra_fields: Vec<String>,
}

impl RowEncoder {
    /// An encoder for `layout`, reading the fixed columns from these fields.
    pub fn new(layout: &TableLayout, timestamp: &str, level: &str, message: &str) -> Self {
        Self {
            timestamp_field: timestamp.to_owned(),
            level_field: level.to_owned(),
            message_field: message.to_owned(),
            extra_fields: layout.extra().iter().map(|c| c.field.clone()).collect(),
        }
    }

    /// The row's values in load order, `None` for SQL NULL. The `event`
    /// column is the record's own bytes: a record the server cannot take
    /// as JSON is refused by the server, row by row.
    pub fn values<'r>(&self, record: &'r [u8]) -> Vec<Option<Cow<'r, str>>> {
        let parsed: Option<Value> = serde_json::from_slice(record).ok();
        let field = |path: &str| -> Option<Cow<'r, str>> {
            let value = record_field(parsed.as_ref()?, path)?;
            (!value.is_null()).then(|| Cow::Owned(field_text(value)))
        };
        let timestamp = parsed
            .as_ref()
            .and_then(|r| record_field(r, &self.timestamp_field))
            .and_then(unix_nanos)
            .and_then(rfc3339);
        let mut values = Vec::with_capacity(4 + self.extra_fields.len());
        values.push(timestamp.map(Cow::Owned));
        values.push(field(&self.level_field));
        values.push(field(&self.message_field));
        values.push(Some(String::from_utf8_lossy(record)));
        for path in &self.extra_fields {
            values.push(field(path));
        }
        values
    }

    /// Appends `record` as one line of `COPY … FROM STDIN` text.
    pub fn copy_line(&self, record: &[u8], out: &mut Vec<u8>) {
        let parsed: Option<Value> = serde_json::from_slice(record).ok();
        let field = |path: &str| {
            parsed
                .as_ref()
                .and_then(|r| record_field(r, path))
                .filter(|v| !v.is_null())
                .map(field_text)
        };
        let timestamp = parsed
            .as_ref()
            .and_then(|r| record_field(r, &self.timestamp_field))
            .and_then(unix_nanos)
            .and_then(rfc3339);
        copy_value(timestamp.as_deref().map(str::as_bytes), out);
        out.push(b'\t');
        copy_value(field(&self.level_field).as_deref().map(str::as_bytes), out);
        out.push(b'\t');
        copy_value(
            field(&self.message_field).as_deref().map(str::as_bytes),
            out,
        );
        out.push(b'\t');
        // The record's own bytes: invalid UTF-8 or a NUL makes the server
        // refuse exactly this row.
        copy_value(Some(record), out);
        for path in &self.extra_fields {
            out.push(b'\t');
            copy_value(field(path).as_deref().map(str::as_bytes), out);
        }
        out.push(b'\n');
    }
}

/// One value in the COPY text format: `\N` for NULL; backslash, tab,
/// newline and carriage return escaped.
fn copy_value(value: Option<&[u8]>, out: &mut Vec<u8>) {
    let Some(value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    let mut start = 0;
    for (i, &byte) in value.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&value[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&value[start..]);
}

fn rfc3339(nanos: u64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::postgres::table::ExtraColumn;

    fn encoder() -> RowEncoder {
        let layout = TableLayout::new(
            "public",
            "logs",
            vec![ExtraColumn {
                column: "service".into(),
                field: "svc.name".into(),
            }],
        )
        .unwrap();
        RowEncoder::new(&layout, "timestamp", "level", "message")
    }

    #[test]
    fn a_record_becomes_one_escaped_copy_line() {
        let record =
            br#"{"timestamp":1764583200,"level":"info","message":"a\tb\\c","svc":{"name":"api"}}"#;
        let mut out = Vec::new();
        encoder().copy_line(record, &mut out);
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            "2025-12-01T10:00:00Z\tinfo\ta\\tb\\\\c\t{\"timestamp\":1764583200,\"level\":\"info\",\"message\":\"a\\\\tb\\\\\\\\c\",\"svc\":{\"name\":\"api\"}}\tapi\n"
        );
    }

    #[test]
    fn missing_fields_are_null_and_values_match_the_copy_line() {
        let mut out = Vec::new();
        encoder().copy_line(b"{\"x\":1}", &mut out);
        assert_eq!(out, b"\\N\t\\N\t\\N\t{\"x\":1}\t\\N\n");
        let values = encoder().values(br#"{"level":"warn","svc":{"name":7}}"#);
        assert_eq!(values[0], None);
        assert_eq!(values[1].as_deref(), Some("warn"));
        assert_eq!(values[4].as_deref(), Some("7"));
    }
}
