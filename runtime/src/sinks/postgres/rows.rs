//! One record as one row: its time, level and message read from their
//! fields, the extra columns' fields as text, and the whole record as the
//! `event` JSONB column, in the COPY text format or as `INSERT` parameters
//! (one text array per column).

use std::ops::Range;
use std::sync::Arc;

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, Kind, ToSql, Type, to_sql_checked};

use super::table::TableLayout;
use crate::sinks::util::record_fields::{FieldReader, FoundFields, utf8_text};
use crate::sinks::util::record_time::{TimeReader, write_rfc3339};

/// Which fields fill the fixed columns: read from each record's raw
/// bytes with the routing scanner, nothing else of it decoded.
#[derive(Clone, Debug)]
pub(crate) struct RowEncoder {
    /// The time, level and message fields, then the extra columns'.
    reader: FieldReader,
    extra_fields: usize,
}

/// What encoding one row needs besides the row, reused from row to row
/// of a batch: the fields found, the last time read, the time written.
#[derive(Default)]
pub(crate) struct RowScratch<'r> {
    found: FoundFields<'r>,
    times: TimeReader,
    time: Vec<u8>,
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
        let mut scratch = RowScratch::default();
        let time = self
            .read_row(record, &mut scratch)
            .then(|| String::from_utf8(scratch.time.clone()).expect("RFC 3339 is ASCII"));
        let found = &scratch.found;
        let field = |index: usize| -> Option<Cow<'r, str>> {
            let field = self.reader.field(found, index);
            if field.is_null() { None } else { field.text() }
        };
        let mut values = Vec::with_capacity(4 + self.extra_fields);
        values.push(time.map(Cow::Owned));
        values.push(field(LEVEL));
        values.push(field(MESSAGE));
        values.push(Some(utf8_text(record)));
        for i in 0..self.extra_fields {
            values.push(field(EXTRA + i));
        }
        values
    }

    /// Appends `record` as one line of `COPY … FROM STDIN` text.
    pub fn copy_line<'r>(&self, record: &'r [u8], scratch: &mut RowScratch<'r>, out: &mut Vec<u8>) {
        // RFC 3339 has nothing COPY escapes.
        let time = self.read_row(record, scratch).then_some(&scratch.time[..]);
        copy_value(time, out);
        let found = &scratch.found;
        let field = |index: usize| {
            let field = self.reader.field(found, index);
            if field.is_null() { None } else { field.text() }
        };
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
    /// values [`values`](Self::values) gives.
    pub fn insert_row<'r>(
        &self,
        record: &'r [u8],
        scratch: &mut RowScratch<'r>,
        arrays: &mut ColumnArrays,
    ) {
        let time = self.read_row(record, scratch);
        let (found, time) = (&scratch.found, time.then_some(&scratch.time[..]));
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
        // Written as ASCII: the check cannot fail.
        push(time.and_then(|time| std::str::from_utf8(time).ok()));
        push(field(LEVEL).as_deref());
        push(field(MESSAGE).as_deref());
        push(Some(&utf8_text(record)));
        for i in 0..self.extra_fields {
            push(field(EXTRA + i).as_deref());
        }
    }

    /// Reads `record`'s fields into `scratch` and writes its time there as
    /// RFC 3339 in UTC; `false` if it has no time.
    fn read_row<'r>(&self, record: &'r [u8], scratch: &mut RowScratch<'r>) -> bool {
        self.reader.read(record, &mut scratch.found);
        let nanos = self
            .reader
            .field(&scratch.found, TIMESTAMP)
            .unix_nanos_with(&mut scratch.times);
        scratch.time.clear();
        nanos
            .inspect(|nanos| write_rfc3339(*nanos, &mut scratch.time))
            .is_some()
    }
}

/// Rows as one text array per column, for the INSERT that unnests them:
/// each column's values back to back in one string, so a piece of a batch
/// costs a few allocations, not one per value.
#[derive(Debug)]
pub(crate) struct ColumnArrays {
    columns: Vec<ColumnText>,
}

/// One column's values.
#[derive(Debug, Default)]
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
        Self { columns }
    }

    /// How many rows.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |column| column.spans.len())
    }

    /// Rows `rows` as the statement's parameters: one `text[]` per column,
    /// in column order, each written straight from the column's text.
    pub fn params(self: &Arc<Self>, rows: Range<usize>) -> Vec<TextArrayParam> {
        (0..self.columns.len())
            .map(|column| TextArrayParam {
                arrays: Arc::clone(self),
                column,
                rows: rows.clone(),
            })
            .collect()
    }

    /// Rows `range` as one array per column, in column order.
    #[cfg(test)]
    pub fn arrays(&self, range: Range<usize>) -> Vec<Vec<Option<&str>>> {
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

/// Some rows of one column as a `text[]` parameter. It owns its rows (they
/// are shared), so a statement given it can be in flight while the next
/// rows are encoded.
#[derive(Debug)]
pub(crate) struct TextArrayParam {
    arrays: Arc<ColumnArrays>,
    column: usize,
    rows: Range<usize>,
}

impl ToSql for TextArrayParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let Kind::Array(member) = ty.kind() else {
            return Err(format!("a column's values go as an array, not as {ty}").into());
        };
        let column = &self.arrays.columns[self.column];
        let dimension = postgres_protocol::types::ArrayDimension {
            len: i32::try_from(self.rows.len())?,
            lower_bound: 1,
        };
        postgres_protocol::types::array_to_sql(
            Some(dimension),
            member.oid(),
            &column.spans[self.rows.clone()],
            |span, out| match span {
                Some((start, end)) => {
                    postgres_protocol::types::text_to_sql(&column.text[*start..*end], out);
                    Ok(postgres_protocol::IsNull::No)
                }
                None => Ok(postgres_protocol::IsNull::Yes),
            },
            out,
        )?;
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Array(member) if <&str as ToSql>::accepts(member))
    }

    to_sql_checked!();
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
        encoder().copy_line(record, &mut RowScratch::default(), &mut out);
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            "2025-12-01T10:00:00Z\tinfo\ta\\tb\\\\c\t{\"timestamp\":1764583200,\"level\":\"info\",\"message\":\"a\\\\tb\\\\\\\\c\",\"svc\":{\"name\":\"api\"}}\tapi\n"
        );
    }

    #[test]
    fn times_are_written_in_utc_whatever_their_zone_or_shape() {
        let mut scratch = RowScratch::default();
        let mut out = Vec::new();
        for (record, time) in [
            (
                r#"{"timestamp":"2026-12-01T11:00:00.5+01:00"}"#,
                "2026-12-01T10:00:00.5Z",
            ),
            // The same second again (read from the remembered second).
            (
                r#"{"timestamp":"2026-12-01T11:00:00.25+01:00"}"#,
                "2026-12-01T10:00:00.25Z",
            ),
            (r#"{"timestamp":1764583200123}"#, "2025-12-01T10:00:00.123Z"),
            (r#"{"timestamp":"yesterday"}"#, "\\N"),
        ] {
            out.clear();
            encoder().copy_line(record.as_bytes(), &mut scratch, &mut out);
            let line = String::from_utf8(out.clone()).unwrap();
            assert_eq!(line.split('\t').next(), Some(time), "{record}");
        }
    }

    #[test]
    fn missing_fields_are_null_and_values_match_the_copy_line() {
        let mut out = Vec::new();
        encoder().copy_line(b"{\"x\":1}", &mut RowScratch::default(), &mut out);
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
        let mut scratch = RowScratch::default();
        for record in records {
            encoder.insert_row(record, &mut scratch, &mut arrays);
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

    #[test]
    fn params_are_encoded_as_the_library_encodes_the_same_arrays() {
        let encoder = encoder();
        let mut arrays = ColumnArrays::new(5, 3);
        let mut scratch = RowScratch::default();
        for record in [
            br#"{"level":"warn","message":"\u00e9t\u00e9","svc":{"name":"api"}}"#.as_slice(),
            b"{}",
            br#"{"timestamp":"2026-01-01T00:00:00Z","message":""}"#,
        ] {
            encoder.insert_row(record, &mut scratch, &mut arrays);
        }
        let arrays = Arc::new(arrays);
        for rows in [0..3, 1..3, 2..2] {
            let expected = arrays.arrays(rows.clone());
            for (param, values) in arrays.params(rows.clone()).iter().zip(&expected) {
                let (mut ours, mut theirs) = (BytesMut::new(), BytesMut::new());
                param.to_sql_checked(&Type::TEXT_ARRAY, &mut ours).unwrap();
                values
                    .as_slice()
                    .to_sql_checked(&Type::TEXT_ARRAY, &mut theirs)
                    .unwrap();
                assert_eq!(ours, theirs, "rows {rows:?}");
            }
        }
        let wrong = arrays.params(0..1).remove(0);
        assert!(
            wrong
                .to_sql_checked(&Type::INT4_ARRAY, &mut BytesMut::new())
                .is_err()
        );
    }
}
