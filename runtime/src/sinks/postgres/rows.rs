//! One record as one row: its time, level and message read from their
//! fields, the extra columns' fields as text, and the whole record as the
//! `event` JSONB column, in the COPY text format or as `INSERT` parameters
//! (one text array per column).

use super::table::TableLayout;
use crate::sinks::util::record_fields::{FieldReader, FoundFields, utf8_text};

/// Which fields fill the fixed columns: read from each record's raw
/// bytes with the routing scanner, nothing else of it decoded.
#[derive(Clone, Debug)]
pub(crate) struct RowEncoder {
    /// The time, level and message fields, then the extra columns'.
    reader: FieldReader,
    extra_fields: usize,
}

/// Field positions in the reader.
const TIMESTAMP: usize = 0;
const LEVEL: usize = 1;
const MESSAGE: usize = 2;
const EXTRA: usize = 3;

impl RowEncoder {
    /// An encoder for `layout`, reading the fixed columns from these fields.
    pub fn new(layout: &TableLayout, timestamp: &str, level: &str, message: &str) -> Self {
        let mut fields = vec![timestamp.to_owned(), level.to_owned(), message.to_owned()];
        fields.extend(layout.extra().iter().map(|c| c.field.clone()));
        Self {
            reader: FieldReader::new(&fields),
            extra_fields: layout.extra().len(),
        }
    }

    /// The row's values in load order, `None` for SQL NULL. The `event`
    /// column is the record's own bytes: a record the server cannot take
    /// as JSON is refused by the server, row by row.
    #[cfg(test)]
    pub fn values<'r>(&self, record: &'r [u8]) -> Vec<Option<std::borrow::Cow<'r, str>>> {
        use std::borrow::Cow;
        let mut found = FoundFields::default();
        self.reader.read(record, &mut found);
        let field = |index: usize| -> Option<Cow<'r, str>> {
            let field = self.reader.field(&found, index);
            if field.is_null() { None } else { field.text() }
        };
        let mut values = Vec::with_capacity(4 + self.extra_fields);
        values.push(self.timestamp(&found).map(Cow::Owned));
        values.push(field(LEVEL));
        values.push(field(MESSAGE));
        values.push(Some(utf8_text(record)));
        for i in 0..self.extra_fields {
            values.push(field(EXTRA + i));
        }
        values
    }

    /// Appends `record` as one line of `COPY … FROM STDIN` text; `found`
    /// is scratch space, reused from record to record.
    pub fn copy_line<'r>(&self, record: &'r [u8], found: &mut FoundFields<'r>, out: &mut Vec<u8>) {
        self.reader.read(record, found);
        let field = |index: usize| {
            let field = self.reader.field(found, index);
            if field.is_null() { None } else { field.text() }
        };
        copy_value(self.timestamp(found).as_deref().map(str::as_bytes), out);
        out.push(b'\t');
        copy_value(field(LEVEL).as_deref().map(str::as_bytes), out);
        out.push(b'\t');
        copy_value(field(MESSAGE).as_deref().map(str::as_bytes), out);
        out.push(b'\t');
        // The record's own bytes: invalid UTF-8 or a NUL makes the server
        // refuse exactly this row.
        copy_value(Some(record), out);
        for i in 0..self.extra_fields {
            out.push(b'\t');
            copy_value(field(EXTRA + i).as_deref().map(str::as_bytes), out);
        }
        out.push(b'\n');
    }

    /// Appends `record` as one row of `arrays` (INSERT mode), the same
    /// values [`values`](Self::values) gives; `found` is scratch space.
    pub fn insert_row<'r>(
        &self,
        record: &'r [u8],
        found: &mut FoundFields<'r>,
        arrays: &mut ColumnArrays,
    ) {
        self.reader.read(record, found);
        let field = |index: usize| {
            let field = self.reader.field(found, index);
            if field.is_null() { None } else { field.text() }
        };
        let mut columns = arrays.columns.iter_mut();
        let mut push = |value: Option<&str>| {
            if let Some(column) = columns.next() {
                column.push(value);
            }
        };
        push(self.timestamp(found).as_deref());
        push(field(LEVEL).as_deref());
        push(field(MESSAGE).as_deref());
        push(Some(&utf8_text(record)));
        for i in 0..self.extra_fields {
            push(field(EXTRA + i).as_deref());
        }
        arrays.row_done();
    }

    /// The record's time as RFC 3339, if it has one.
    fn timestamp(&self, found: &FoundFields<'_>) -> Option<String> {
        self.reader
            .field(found, TIMESTAMP)
            .unix_nanos()
            .and_then(rfc3339)
    }
}

/// A batch's rows as one text array per column, for the INSERT that
/// unnests them: each column's values back to back in one string, so a
/// batch costs a few allocations, not one per value.
pub(crate) struct ColumnArrays {
    columns: Vec<ColumnText>,
    rows: usize,
}

/// One column's values.
#[derive(Default)]
struct ColumnText {
    text: String,
    /// Where each row's value is in `text`; `None` for SQL NULL.
    spans: Vec<Option<(usize, usize)>>,
}

impl ColumnText {
    fn push(&mut self, value: Option<&str>) {
        self.spans.push(value.map(|value| {
            let start = self.text.len();
            self.text.push_str(value);
            (start, self.text.len())
        }));
    }
}

impl ColumnArrays {
    /// Room for `rows` rows of `width` columns.
    pub fn new(width: usize, rows: usize) -> Self {
        let columns = (0..width)
            .map(|_| ColumnText {
                text: String::new(),
                spans: Vec::with_capacity(rows),
            })
            .collect();
        Self { columns, rows: 0 }
    }

    /// Counts a row whose values were pushed.
    fn row_done(&mut self) {
        self.rows += 1;
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Rows `range` as one array per column, in column order.
    pub fn arrays(&self, range: std::ops::Range<usize>) -> Vec<Vec<Option<&str>>> {
        self.columns
            .iter()
            .map(|column| {
                column.spans[range.clone()]
                    .iter()
                    .map(|span| span.map(|(start, end)| &column.text[start..end]))
                    .collect()
            })
            .collect()
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
        encoder().copy_line(record, &mut FoundFields::default(), &mut out);
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            "2025-12-01T10:00:00Z\tinfo\ta\\tb\\\\c\t{\"timestamp\":1764583200,\"level\":\"info\",\"message\":\"a\\\\tb\\\\\\\\c\",\"svc\":{\"name\":\"api\"}}\tapi\n"
        );
    }

    #[test]
    fn missing_fields_are_null_and_values_match_the_copy_line() {
        let mut out = Vec::new();
        encoder().copy_line(b"{\"x\":1}", &mut FoundFields::default(), &mut out);
        assert_eq!(out, b"\\N\t\\N\t\\N\t{\"x\":1}\t\\N\n");
        let values = encoder().values(br#"{"level":"warn","svc":{"name":7}}"#);
        assert_eq!(values[0], None);
        assert_eq!(values[1].as_deref(), Some("warn"));
        assert_eq!(values[4].as_deref(), Some("7"));
    }

    #[test]
    fn insert_rows_are_the_values_column_by_column() {
        let records: [&[u8]; 3] = [
            br#"{"timestamp":1764583200,"level":"warn","message":"m","svc":{"name":7}}"#,
            b"{\"x\":1}",
            br#"{"level":"info","svc":{"name":"api"}}"#,
        ];
        let encoder = encoder();
        let mut arrays = ColumnArrays::new(5, 3);
        let mut found = FoundFields::default();
        for record in records {
            encoder.insert_row(record, &mut found, &mut arrays);
        }
        assert_eq!(arrays.len(), 3);
        let columns = arrays.arrays(0..3);
        for (row, record) in records.iter().enumerate() {
            let values = encoder.values(record);
            let row_values: Vec<Option<&str>> = columns.iter().map(|c| c[row]).collect();
            assert_eq!(
                row_values,
                values.iter().map(|v| v.as_deref()).collect::<Vec<_>>()
            );
        }
        assert_eq!(arrays.arrays(1..3)[1], [None, Some("info")]);
    }
}
