//! The running `postgres` sink.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::SinkExt;

use super::rows::{ColumnArrays, RowEncoder};
use super::table::TableLayout;
use crate::batch::Batch;
use crate::sink::{Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::blocking_runtime::BlockingRuntime;
use crate::sinks::util::http::response_class::bounded_text;
use crate::sinks::util::record_fields::FoundFields;

/// How rows are loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostgresWriteMode {
    /// `COPY … FROM STDIN` (text format): one stream per batch.
    Copy,
    /// One prepared `INSERT … SELECT … FROM unnest(…)` of a text array per
    /// column.
    Insert,
}

/// The `postgres` sink's options.
#[derive(Clone)]
pub struct PostgresSinkOptions {
    /// Where to connect and who to be (the password is never printed).
    pub connection: tokio_postgres::Config,
    /// A PEM root certificate to trust besides the webpki roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Schema, table and extra columns.
    pub(crate) layout: TableLayout,
    /// Which record fields fill `timestamp`, `level` and `message`.
    pub(crate) encoder: RowEncoder,
    /// Whether to create the schema, table and index when missing.
    pub create_table: bool,
    /// COPY or INSERT.
    pub write_mode: PostgresWriteMode,
    /// Most connections kept open.
    pub max_pool_size: usize,
    /// Deadline of writing one batch, connecting included.
    pub timeout: Duration,
}

impl std::fmt::Debug for PostgresSinkOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSinkOptions")
            .field("hosts", &self.connection.get_hosts())
            .field("user", &self.connection.get_user())
            .field("table", &self.layout.qualified())
            .field("write_mode", &self.write_mode)
            .finish_non_exhaustive()
    }
}

/// Writes each batch into one PostgreSQL table in one transaction, with
/// `COPY` (or one `INSERT` of a text array per column). A row the server refuses (bad JSON, a
/// NUL byte, a constraint) does not hold the batch back: the sink finds
/// exactly the refused rows by splitting the load in halves under
/// savepoints, commits the rest, and answers `refused` for those rows
/// only. Connection failures are retryable; the pool reconnects after the
/// server restarts.
pub struct PostgresSink {
    name: String,
    options: PostgresSinkOptions,
    runtime: Option<BlockingRuntime>,
    pool: Option<Pool>,
    table_ready: bool,
    last_failure: Option<String>,
}

/// Why a load stopped.
enum LoadError {
    /// The server, the connection or the deadline: retry the batch.
    Transient(String),
    /// The table is gone: create it again, then retry.
    NoTable(String),
}

impl PostgresSink {
    /// A sink named `name`; nothing connects until it starts.
    pub fn new(name: &str, options: PostgresSinkOptions) -> Self {
        Self {
            name: name.to_owned(),
            options,
            runtime: None,
            pool: None,
            table_ready: false,
            last_failure: None,
        }
    }

    fn ensure_table(&mut self) -> Result<(), String> {
        if self.table_ready || !self.options.create_table {
            self.table_ready = true;
            return Ok(());
        }
        let (Some(runtime), Some(pool)) = (&self.runtime, &self.pool) else {
            return Err("the sink is not started".into());
        };
        let statements = self.options.layout.create_statements();
        runtime.run(self.options.timeout, "creating the table", async {
            let client = pool.get().await.map_err(|e| pool_error(&e))?;
            for statement in &statements {
                client
                    .batch_execute(statement)
                    .await
                    .map_err(|e| format!("cannot create the table: {}", db_error(&e)))?;
            }
            Ok(())
        })?;
        self.table_ready = true;
        Ok(())
    }

    fn failed(&mut self, reason: String) -> WriteOutcome {
        if reason.contains("timed out") {
            // A load cut off mid-protocol: drop the connection it used
            // rather than reuse it.
            if let Some(pool) = &self.pool {
                pool.retain(|_, _| false);
            }
        }
        self.last_failure = Some(reason.clone());
        WriteOutcome::Retryable(reason)
    }
}

impl Sink for PostgresSink {
    fn start(&mut self) -> Result<(), SinkError> {
        let runtime = BlockingRuntime::new(&self.name).map_err(SinkError::new)?;
        let tls =
            crate::sinks::util::connection::transport::tls_config(self.options.ca_file.as_deref())
                .map_err(|e| SinkError::new(e.to_string()))?;
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new((*tls).clone());
        let manager = Manager::from_config(
            self.options.connection.clone(),
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.options.max_pool_size.max(1))
            .build()
            .map_err(|e| SinkError::new(format!("cannot set up the connection pool: {e}")))?;
        self.runtime = Some(runtime);
        self.pool = Some(pool);
        self.table_ready = false;
        if let Err(err) = self.ensure_table() {
            // The server may come up later: the first write tries again.
            tracing::warn!(sink = %self.name, "{err}; writes will retry until the server answers");
            self.last_failure = Some(err);
        }
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        if let Err(err) = self.ensure_table() {
            return self.failed(err);
        }
        let (Some(runtime), Some(pool)) = (&self.runtime, &self.pool) else {
            return WriteOutcome::Fatal("the sink is not started".into());
        };
        let rows = EncodedRows::new(batch, &self.options);
        let loaded = runtime.run(self.options.timeout, "writing the batch", async {
            Ok(load_isolating(pool, &self.options, &rows).await)
        });
        match loaded {
            Ok(Ok(refused)) if refused.is_empty() => {
                self.last_failure = None;
                WriteOutcome::Accepted
            }
            Ok(Ok(refused)) => {
                self.last_failure = None;
                WriteOutcome::settled(batch.len(), batch.len(), refused, String::new())
            }
            Ok(Err(LoadError::NoTable(reason))) => {
                self.table_ready = false;
                self.failed(reason)
            }
            Ok(Err(LoadError::Transient(reason))) | Err(reason) => self.failed(reason),
        }
    }

    fn health(&mut self) -> Health {
        let (Some(runtime), Some(pool)) = (&self.runtime, &self.pool) else {
            return Health::Unhealthy("not started".into());
        };
        let probe = runtime.run(Duration::from_secs(5), "the health query", async {
            let client = pool.get().await.map_err(|e| pool_error(&e))?;
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| db_error(&e))?;
            Ok(())
        });
        match probe {
            Ok(()) => Health::Healthy,
            Err(reason) => Health::Unhealthy(reason),
        }
    }

    fn stop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.close();
        }
        self.runtime = None;
    }
}

/// A batch's rows, encoded once whatever ranges are loaded.
enum EncodedRows {
    /// COPY text lines, back to back, and where each ends.
    Copy { lines: Bytes, ends: Vec<usize> },
    /// One text array per column.
    Insert(ColumnArrays),
}

impl EncodedRows {
    fn new(batch: &Batch, options: &PostgresSinkOptions) -> Self {
        let mut found = FoundFields::default();
        match options.write_mode {
            PostgresWriteMode::Copy => {
                let mut lines = Vec::with_capacity(batch.bytes().len() * 2);
                let mut ends = Vec::with_capacity(batch.len() as usize);
                for record in batch.records() {
                    options.encoder.copy_line(record, &mut found, &mut lines);
                    ends.push(lines.len());
                }
                Self::Copy {
                    lines: lines.into(),
                    ends,
                }
            }
            PostgresWriteMode::Insert => {
                let mut arrays = ColumnArrays::new(options.layout.width(), batch.len() as usize);
                for record in batch.records() {
                    options.encoder.insert_row(record, &mut found, &mut arrays);
                }
                Self::Insert(arrays)
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Copy { ends, .. } => ends.len(),
            Self::Insert(arrays) => arrays.len(),
        }
    }
}

/// Loads every row in one transaction. A range the server refuses for its
/// data is rolled back to its savepoint and split in halves until each
/// refused row stands alone; everything else is committed. Returns the
/// refused rows, ascending, each with the server's reason.
/// What a failed load that is not about the rows' data means.
fn load_error(options: &PostgresSinkOptions, err: &tokio_postgres::Error) -> LoadError {
    if err.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) {
        return LoadError::NoTable(format!(
            "the table {} does not exist: {}",
            options.layout.qualified(),
            db_error(err)
        ));
    }
    transient("the server refused the batch", err)
}

async fn load_isolating(
    pool: &Pool,
    options: &PostgresSinkOptions,
    rows: &EncodedRows,
) -> Result<Vec<(Range<u32>, String)>, LoadError> {
    let mut client = pool
        .get()
        .await
        .map_err(|e| LoadError::Transient(pool_error(&e)))?;
    // Nearly every batch loads whole: try that first, in one transaction
    // without savepoints (two round trips fewer). Only a batch the server
    // refuses for its data is loaded again, halving under savepoints.
    let whole = client
        .transaction()
        .await
        .map_err(|e| transient("cannot begin a transaction", &e))?;
    match load(&whole, options, rows, 0..rows.len()).await {
        Ok(()) => {
            whole
                .commit()
                .await
                .map_err(|e| transient("cannot commit", &e))?;
            return Ok(Vec::new());
        }
        Err(err) if is_data_error(&err) => {
            whole
                .rollback()
                .await
                .map_err(|e| transient("cannot roll back", &e))?;
        }
        Err(err) => return Err(load_error(options, &err)),
    }
    let transaction = client
        .transaction()
        .await
        .map_err(|e| transient("cannot begin a transaction", &e))?;
    let mut refused = Vec::new();
    // Ranges still to load, the next one last.
    let mut pending = Vec::with_capacity(16);
    pending.push(0..rows.len());
    while let Some(range) = pending.pop() {
        if range.is_empty() {
            continue;
        }
        transaction
            .batch_execute("SAVEPOINT sinkbox_rows")
            .await
            .map_err(|e| transient("cannot set a savepoint", &e))?;
        match load(&transaction, options, rows, range.clone()).await {
            Ok(()) => transaction
                .batch_execute("RELEASE SAVEPOINT sinkbox_rows")
                .await
                .map_err(|e| transient("cannot release a savepoint", &e))?,
            Err(err) if is_data_error(&err) => {
                transaction
                    .batch_execute("ROLLBACK TO SAVEPOINT sinkbox_rows")
                    .await
                    .map_err(|e| transient("cannot roll back to a savepoint", &e))?;
                if range.len() == 1 {
                    let at = range.start as u32;
                    refused.push((at..at + 1, db_error(&err)));
                } else {
                    let middle = range.start + range.len() / 2;
                    pending.push(middle..range.end);
                    pending.push(range.start..middle);
                }
            }
            Err(err) => return Err(load_error(options, &err)),
        }
    }
    transaction
        .commit()
        .await
        .map_err(|e| transient("cannot commit", &e))?;
    Ok(refused)
}

/// Loads `range` of `rows` with the configured statement.
async fn load(
    transaction: &deadpool_postgres::Transaction<'_>,
    options: &PostgresSinkOptions,
    rows: &EncodedRows,
    range: Range<usize>,
) -> Result<(), tokio_postgres::Error> {
    match rows {
        EncodedRows::Copy { lines, ends } => {
            let start = if range.start == 0 {
                0
            } else {
                ends[range.start - 1]
            };
            let sink = transaction
                .copy_in(&options.layout.copy_statement())
                .await?;
            futures_util::pin_mut!(sink);
            sink.send(lines.slice(start..ends[range.end - 1])).await?;
            sink.finish().await?;
        }
        EncodedRows::Insert(arrays) => {
            // Prepared once per connection: the statement is the same for
            // every batch whatever its length.
            let statement = transaction
                .prepare_cached(&options.layout.insert_statement())
                .await?;
            let arrays = arrays.arrays(range);
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = arrays
                .iter()
                .map(|array| array as &(dyn tokio_postgres::types::ToSql + Sync))
                .collect();
            transaction.execute(&statement, &params).await?;
        }
    }
    Ok(())
}

/// A refusal of the rows themselves (SQLSTATE class 22, data exception,
/// or 23, integrity constraint), as opposed to the server or connection.
fn is_data_error(err: &tokio_postgres::Error) -> bool {
    err.code()
        .is_some_and(|code| matches!(&code.code()[..2], "22" | "23"))
}

fn transient(what: &str, err: &tokio_postgres::Error) -> LoadError {
    LoadError::Transient(format!("{what}: {}", db_error(err)))
}

/// The server's own words and SQLSTATE, or the client's error, bounded
/// and escaped (they reach logs and dead letters).
fn db_error(err: &tokio_postgres::Error) -> String {
    let text = match err.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(": ");
                text.push_str(detail);
            }
            text
        }
        None => err.to_string(),
    };
    bounded_text(text.as_bytes())
}

fn pool_error(err: &deadpool_postgres::PoolError) -> String {
    match err {
        deadpool_postgres::PoolError::Backend(e) => format!("cannot connect: {}", db_error(e)),
        other => format!("cannot get a connection: {other}"),
    }
}
