//! The running `nats` sink.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::connection::{NatsAuth, NatsServerOptions, connect};
use super::publish::{AckLimits, messages, publish};
use crate::batch::Batch;
use crate::sink::{Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::blocking_runtime::BlockingRuntime;
use crate::sinks::util::field_template::FieldTemplate;

/// The JetStream stream the sink makes sure exists.
#[derive(Clone, Debug)]
pub struct NatsStream {
    /// The stream's name.
    pub name: String,
    /// The subjects it captures.
    pub subjects: Vec<String>,
}

/// The `nats` sink's options.
#[derive(Clone, Debug)]
pub struct NatsSinkOptions {
    /// Server URLs, `nats://host:4222` (or `tls://`), comma-separated.
    pub url: String,
    /// The subject each record is published on, filled from its fields.
    pub(crate) subject: FieldTemplate,
    /// Credentials.
    pub auth: NatsAuth,
    /// Refuse a connection without TLS.
    pub tls_required: bool,
    /// A PEM root certificate to trust.
    pub ca_file: Option<std::path::PathBuf>,
    /// Create this stream when it is missing.
    pub stream: Option<NatsStream>,
    /// Send `Nats-Msg-Id` so the server drops a retried message it
    /// already stored.
    pub dedupe: bool,
    /// How long to wait for each publish acknowledgement.
    pub ack_timeout: Duration,
    /// Most publishes awaiting acknowledgement.
    pub max_in_flight: usize,
    /// Deadline of opening the connection.
    pub connect_timeout: Duration,
    /// Deadline of publishing one batch.
    pub timeout: Duration,
}

/// Publishes every record to NATS JetStream and waits for the stream's
/// acknowledgements (never fire-and-forget). Publishes are pipelined: up to
/// `max_in_flight` are sent before their acks are read. Each
/// message carries `Nats-Msg-Id` made from this run and the record's
/// sequence number, so the server drops a retried message it already
/// stored (within the stream's duplicate window).
pub struct NatsSink {
    name: String,
    options: NatsSinkOptions,
    runtime: Option<BlockingRuntime>,
    client: Option<async_nats::Client>,
    jetstream: Option<async_nats::jetstream::Context>,
    stream_ready: bool,
    run_id: String,
}

/// An id for one sink of one run: message ids of two runs (or two
/// pipelines in one process) never collide, as sequence numbers start
/// again at each.
fn run_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!(
        "{millis:x}.{:x}.{:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl NatsSink {
    /// A sink named `name`; nothing connects until it starts.
    pub fn new(name: &str, options: NatsSinkOptions) -> Self {
        Self {
            name: name.to_owned(),
            options,
            runtime: None,
            client: None,
            jetstream: None,
            stream_ready: false,
            run_id: run_id(),
        }
    }

    fn ensure_stream(&mut self) -> Result<(), String> {
        let Some(stream) = self.options.stream.clone().filter(|_| !self.stream_ready) else {
            return Ok(());
        };
        let (Some(runtime), Some(jetstream)) = (&self.runtime, &self.jetstream) else {
            return Err("the sink is not started".into());
        };
        runtime.run(self.options.timeout, "creating the stream", async {
            jetstream
                .get_or_create_stream(async_nats::jetstream::stream::Config {
                    name: stream.name.clone(),
                    subjects: stream.subjects.clone(),
                    storage: async_nats::jetstream::stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("cannot create the stream `{}`: {e}", stream.name))
        })?;
        self.stream_ready = true;
        Ok(())
    }
}

impl Sink for NatsSink {
    fn start(&mut self) -> Result<(), SinkError> {
        let runtime = BlockingRuntime::new(&self.name).map_err(SinkError::new)?;
        let options = &self.options;
        let client = runtime
            .run(options.connect_timeout * 2, "connecting", async {
                let server = NatsServerOptions {
                    url: options.url.clone(),
                    auth: options.auth.clone(),
                    tls_required: options.tls_required,
                    ca_file: options.ca_file.clone(),
                    connect_timeout: options.connect_timeout,
                };
                // Start even when the server is down; writes retry.
                let client = connect(&server, true).await?;
                // Built on the runtime: the context spawns its own task.
                // It only makes the stream; publishes go through `publish`.
                let jetstream = async_nats::jetstream::ContextBuilder::new()
                    .timeout(options.ack_timeout)
                    .build(client.clone());
                Ok((client, jetstream))
            })
            .map_err(SinkError::new)?;
        let (client, jetstream) = client;
        self.runtime = Some(runtime);
        self.client = Some(client);
        self.jetstream = Some(jetstream);
        self.stream_ready = false;
        if let Err(err) = self.ensure_stream() {
            tracing::warn!(sink = %self.name, "{err}; writes will retry");
        }
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        if let Err(err) = self.ensure_stream() {
            return WriteOutcome::Retryable(err);
        }
        let (Some(runtime), Some(client)) = (&self.runtime, &self.client) else {
            return WriteOutcome::Fatal("the sink is not started".into());
        };
        let (records, subject, run_id) = (
            batch.clone(),
            self.options.subject.clone(),
            self.run_id.clone(),
        );
        let dedupe = self.options.dedupe;
        let client = client.clone();
        let limits = AckLimits {
            max_in_flight: self.options.max_in_flight,
            ack_timeout: self.options.ack_timeout,
        };
        // On the I/O thread, beside the connection task: the publishes and
        // their acks then never cross threads one by one.
        let published =
            runtime.run_on_io_thread(self.options.timeout, "publishing the batch", async move {
                let messages = messages(&records, &subject, &run_id, dedupe);
                Ok(publish(&client, messages, records.len(), limits).await)
            });
        let published = match published {
            Ok(published) => published,
            Err(reason) => return WriteOutcome::Retryable(reason),
        };
        if published.stream_missing {
            self.stream_ready = false;
        }
        published.outcome(batch.len())
    }

    fn health(&mut self) -> Health {
        match &self.client {
            None => Health::Unhealthy("not started".into()),
            Some(client) => match client.connection_state() {
                async_nats::connection::State::Connected => Health::Healthy,
                state => Health::Unhealthy(format!(
                    "not connected to {} ({state}); reconnecting",
                    self.options.url
                )),
            },
        }
    }

    fn stop(&mut self) {
        if let (Some(runtime), Some(client)) = (&self.runtime, self.client.take()) {
            // Sends what the client still holds before the connection closes.
            let _ = runtime.run(Duration::from_secs(5), "draining", async move {
                client.flush().await.map_err(|e| e.to_string())
            });
        }
        self.jetstream = None;
        self.runtime = None;
    }
}
