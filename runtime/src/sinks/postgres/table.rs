//! The table a `postgres` sink writes: its quoted name, its columns, and
//! the statements that create it and load rows into it. Names come from the
//! configuration and are checked here, so no SQL is ever made from
//! configuration text.

/// A column filled from a record field, besides the fixed ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraColumn {
    /// The column's name.
    pub column: String,
    /// The record field it holds, as text (a dotted path reads nested
    /// objects).
    pub field: String,
}

/// Where rows go and what they hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableLayout {
    schema: String,
    table: String,
    extra: Vec<ExtraColumn>,
}

/// The columns every row fills, in load order.
const FIXED_COLUMNS: [&str; 4] = ["timestamp", "level", "message", "event"];

/// Columns the sink fills or the table creates itself: an extra column may
/// not reuse these names.
const RESERVED: [&str; 6] = ["id", "created_at", "timestamp", "level", "message", "event"];

/// Checks that `name` is a plain identifier: a letter or `_`, then letters,
/// digits or `_`, at most 63 bytes (PostgreSQL's limit).
pub(crate) fn check_identifier(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain || name.len() > 63 {
        return Err(format!(
            "`{name}` is not a plain identifier: use letters, digits and `_`, start with a letter or `_`, at most 63 characters, such as \"app_logs\""
        ));
    }
    Ok(())
}

fn quoted(name: &str) -> String {
    // check_identifier let no `"` through; quoting keeps case and
    // reserved words such as "timestamp" usable.
    format!("\"{name}\"")
}

impl TableLayout {
    /// A layout, once every name is checked.
    pub fn new(schema: &str, table: &str, extra: Vec<ExtraColumn>) -> Result<Self, String> {
        check_identifier(schema).map_err(|e| format!("schema_name: {e}"))?;
        check_identifier(table).map_err(|e| format!("table_name: {e}"))?;
        for (i, column) in extra.iter().enumerate() {
            check_identifier(&column.column).map_err(|e| format!("columns: {e}"))?;
            if RESERVED.contains(&column.column.as_str()) {
                return Err(format!(
                    "columns: `{}` is one of the sink's own columns ({}); pick another name",
                    column.column,
                    RESERVED.join(", ")
                ));
            }
            if extra[..i].iter().any(|c| c.column == column.column) {
                return Err(format!("columns: `{}` is listed twice", column.column));
            }
        }
        Ok(Self {
            schema: schema.to_owned(),
            table: table.to_owned(),
            extra,
        })
    }

    /// The extra columns, in load order after the fixed ones.
    pub fn extra(&self) -> &[ExtraColumn] {
        &self.extra
    }

    /// How many columns a row fills.
    pub fn width(&self) -> usize {
        FIXED_COLUMNS.len() + self.extra.len()
    }

    /// `"schema"."table"`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", quoted(&self.schema), quoted(&self.table))
    }

    fn column_list(&self) -> String {
        FIXED_COLUMNS
            .iter()
            .copied()
            .chain(self.extra.iter().map(|c| c.column.as_str()))
            .map(quoted)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The statements `create_table = true` runs at start, in order.
    pub fn create_statements(&self) -> Vec<String> {
        let table = self.qualified();
        let extra: String = self
            .extra
            .iter()
            .map(|c| format!(",\n    {} TEXT", quoted(&c.column)))
            .collect();
        vec![
            format!("CREATE SCHEMA IF NOT EXISTS {}", quoted(&self.schema)),
            format!(
                "CREATE TABLE IF NOT EXISTS {table} (\n    \"id\" BIGSERIAL PRIMARY KEY,\n    \"created_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),\n    \"timestamp\" TIMESTAMPTZ,\n    \"level\" TEXT,\n    \"message\" TEXT,\n    \"event\" JSONB NOT NULL{extra}\n)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {} ON {table} (\"timestamp\" DESC)",
                quoted(&index_name(&self.table, "timestamp"))
            ),
        ]
    }

    /// `COPY … FROM STDIN` in the text format.
    pub fn copy_statement(&self) -> String {
        format!(
            "COPY {} ({}) FROM STDIN",
            self.qualified(),
            self.column_list()
        )
    }

    /// The `INSERT` of any number of rows: one text array per column,
    /// unnested into rows and cast by the server. Its text never changes,
    /// so each connection prepares it once.
    pub fn insert_statement(&self) -> String {
        let width = self.width();
        let casts: Vec<String> = (1..=width)
            .map(|n| match n {
                1 => format!("c{n}::timestamptz"),
                4 => format!("c{n}::jsonb"),
                _ => format!("c{n}"),
            })
            .collect();
        let arrays: Vec<String> = (1..=width).map(|n| format!("${n}::text[]")).collect();
        let names: Vec<String> = (1..=width).map(|n| format!("c{n}")).collect();
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM unnest({}) AS row_values({})",
            self.qualified(),
            self.column_list(),
            casts.join(", "),
            arrays.join(", "),
            names.join(", ")
        )
    }
}

/// `<table>_<column>_idx`, cut to 63 bytes.
fn index_name(table: &str, column: &str) -> String {
    let mut name = format!("{table}_{column}_idx");
    name.truncate(63);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_carry_sql_are_refused() {
        for bad in [
            "logs; drop table x",
            "a\"b",
            "",
            "1logs",
            "lo gs",
            &"x".repeat(64),
        ] {
            assert!(check_identifier(bad).is_err(), "{bad}");
        }
        check_identifier("App_logs2").unwrap();
        let err = TableLayout::new(
            "public",
            "logs",
            vec![ExtraColumn {
                column: "level".into(),
                field: "x".into(),
            }],
        )
        .unwrap_err();
        assert!(err.contains("sink's own columns"), "{err}");
    }

    #[test]
    fn statements_quote_every_name() {
        let layout = TableLayout::new(
            "Audit",
            "app_logs",
            vec![ExtraColumn {
                column: "service".into(),
                field: "service.name".into(),
            }],
        )
        .unwrap();
        assert_eq!(
            layout.copy_statement(),
            r#"COPY "Audit"."app_logs" ("timestamp", "level", "message", "event", "service") FROM STDIN"#
        );
        assert_eq!(
            layout.insert_statement(),
            r#"INSERT INTO "Audit"."app_logs" ("timestamp", "level", "message", "event", "service") SELECT c1::timestamptz, c2, c3, c4::jsonb, c5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS row_values(c1, c2, c3, c4, c5)"#
        );
        assert!(layout.create_statements()[1].contains("\"service\" TEXT"));
    }
}
