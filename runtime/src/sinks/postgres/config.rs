//! The `postgres` sink type: its options and URI form.

use super::rows::RowEncoder;
use super::sink::{PostgresSink, PostgresSinkOptions, PostgresWriteMode};
use super::table::{ExtraColumn, TableLayout};
use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_context::{SinkContext, string_with_secrets};
use crate::registry::sink_options::SinkOptions;
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};

/// The `postgres` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "postgres",
        "writes batches into a PostgreSQL table with COPY (or INSERT) in one transaction; rows the server refuses are isolated and dead-lettered alone",
        |options, context| {
            Ok(Box::new(PostgresSink::new(
                options.sink_name(),
                sink_options(options, &*context)?,
            )))
        },
    )
    .options(OPTIONS)
    .uri(UriForm {
        schemes: &["postgres", "postgresql"],
        target: UriTarget::WholeUri("dsn"),
        rest_into: None,
    })
}

const CONNECTION_KEYS: [&str; 4] = ["host", "port", "database", "user"];

fn sink_options(
    options: &SinkOptions,
    context: &dyn SinkContext,
) -> Result<PostgresSinkOptions, ConfigError> {
    let mut connection = match string_with_secrets(options, context, "dsn")? {
        Some(dsn) => {
            if let Some(key) = CONNECTION_KEYS.iter().find(|k| options.is_set(k)) {
                return Err(options.invalid(
                    key,
                    "is set together with `dsn`; put everything in the dsn, or drop the dsn and use host, port, database and user",
                ));
            }
            dsn.parse::<tokio_postgres::Config>().map_err(|e| {
                options.invalid(
                    "dsn",
                    format!(
                        "is not a PostgreSQL connection string ({e}); write \"postgresql://user@host:5432/database\" or \"host=… user=… dbname=…\""
                    ),
                )
            })?
        }
        None => {
            let mut config = tokio_postgres::Config::new();
            config
                .host(&options.require_string("host")?)
                .port(
                    u16::try_from(options.integer_or_default("port")?)
                        .map_err(|_| options.invalid("port", "must be from 1 to 65535"))?,
                )
                .dbname(&options.require_string("database")?)
                .user(&options.require_string("user")?);
            config
        }
    };
    if let Some(password) = string_with_secrets(options, context, "password")? {
        connection.password(password);
    }
    if options.is_set("sslmode") || options.string("dsn")?.is_none() {
        connection.ssl_mode(match options.require_string("sslmode")?.as_str() {
            "disable" => tokio_postgres::config::SslMode::Disable,
            "require" => tokio_postgres::config::SslMode::Require,
            _ => tokio_postgres::config::SslMode::Prefer,
        });
    }
    if connection.get_application_name().is_none() {
        connection.application_name("sinkbox");
    }
    connection.connect_timeout(options.duration_or_default("connect_timeout")?);
    let extra = options
        .table("columns")?
        .into_iter()
        .map(|(column, field)| ExtraColumn { column, field })
        .collect();
    let layout = TableLayout::new(
        &options.require_string("schema_name")?,
        &options.require_string("table_name")?,
        extra,
    )
    .map_err(|why| {
        let option = why.split(':').next().unwrap_or("table_name").to_owned();
        options.invalid(&option, why[option.len() + 1..].trim().to_owned())
    })?;
    let encoder = RowEncoder::new(
        &layout,
        &options.require_string("timestamp_field")?,
        &options.require_string("level_field")?,
        &options.require_string("message_field")?,
    );
    let max_pool_size = options.integer_or_default("max_pool_size")?;
    if !(1..=64).contains(&max_pool_size) {
        return Err(options.invalid("max_pool_size", "must be from 1 to 64, such as 2"));
    }
    Ok(PostgresSinkOptions {
        connection,
        ca_file: options.path("ca_file")?,
        layout,
        encoder,
        create_table: options.bool("create_table")?,
        write_mode: match options.require_string("write_mode")?.as_str() {
            "insert" => PostgresWriteMode::Insert,
            _ => PostgresWriteMode::Copy,
        },
        max_pool_size: max_pool_size as usize,
        timeout: options.duration_or_default("timeout")?,
    })
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("dsn", OptionKind::String).help(
        "a connection string, \"postgresql://user@host:5432/db?sslmode=require\" or \"host=… dbname=…\"; may hold ${secret:NAME}; instead of host, port, database and user",
    ),
    OptionSpec::new("host", OptionKind::String)
        .default("localhost")
        .help("the server's host name, address, or a Unix socket directory"),
    OptionSpec::new("port", OptionKind::Integer)
        .default("5432")
        .help("the server's port"),
    OptionSpec::new("database", OptionKind::String)
        .default("postgres")
        .help("the database to write to"),
    OptionSpec::new("user", OptionKind::String)
        .default("postgres")
        .help("the role to connect as"),
    OptionSpec::new("password", OptionKind::String)
        .help("the role's password, best as ${secret:NAME}; never printed"),
    OptionSpec::new("sslmode", OptionKind::Choice(&["disable", "prefer", "require"]))
        .default("prefer")
        .help("TLS (rustls, webpki roots plus ca_file): prefer tries TLS and falls back, require refuses a plain connection"),
    OptionSpec::new("ca_file", OptionKind::Path)
        .help("a PEM root certificate to trust besides the webpki roots, for a private CA"),
    OptionSpec::new("schema_name", OptionKind::String)
        .default("public")
        .help("the table's schema (a plain identifier)"),
    OptionSpec::new("table_name", OptionKind::String)
        .default("logs")
        .help("the table rows go to (a plain identifier: letters, digits, `_`)"),
    OptionSpec::new("create_table", OptionKind::Bool)
        .default("true")
        .help("create the schema, the table (id, created_at, timestamp, level, message, event JSONB, extra columns) and a timestamp index when missing"),
    OptionSpec::new("columns", OptionKind::Table)
        .help("extra TEXT columns filled from record fields, { column = \"field.path\" }, such as { service = \"service.name\" }"),
    OptionSpec::new("timestamp_field", OptionKind::String)
        .default("timestamp")
        .help("the field read into the `timestamp` column (RFC 3339 or epoch seconds/ms/µs/ns)"),
    OptionSpec::new("level_field", OptionKind::String)
        .default("level")
        .help("the field read into the `level` column"),
    OptionSpec::new("message_field", OptionKind::String)
        .default("message")
        .help("the field read into the `message` column"),
    OptionSpec::new("write_mode", OptionKind::Choice(&["copy", "insert"]))
        .default("copy")
        .help("copy: COPY FROM STDIN, PostgreSQL's bulk path; insert: one prepared INSERT of a text array per column (for where COPY is not allowed)"),
    OptionSpec::new("max_pool_size", OptionKind::Integer)
        .default("2")
        .help("most connections kept open (1 to 64); a dropped connection is replaced on the next write"),
    OptionSpec::new("connect_timeout", OptionKind::Duration)
        .default("5s")
        .help("deadline of opening a connection"),
    OptionSpec::new("timeout", OptionKind::Duration)
        .default("30s")
        .help("deadline of writing one batch, connecting included; past it the batch is retried"),
];
