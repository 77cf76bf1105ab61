//! The running `postgres` sink.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use super::load::{LoadError, db_error, load_batch, pool_error};
use super::rows::RowEncoder;
use super::table::TableLayout;
use crate::batch::Batch;
use crate::sink::{Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::blocking_runtime::BlockingRuntime;

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
        let loaded = runtime.run(self.options.timeout, "writing the batch", async {
            Ok(load_batch(pool, &self.options, batch).await)
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
