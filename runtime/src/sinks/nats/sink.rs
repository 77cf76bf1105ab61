//! The running `nats` sink.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::Subject;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;

use super::connection::{NatsAuth, NatsServerOptions, connect};
use crate::batch::Batch;
use crate::sink::{Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::blocking_runtime::BlockingRuntime;
use crate::sinks::util::field_template::FieldTemplate;
use crate::sinks::util::http::response_class::bounded_text;
use crate::sinks::util::record_fields::{FieldReader, FoundFields};

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
/// acknowledgements (never fire-and-forget). Publishes are pipelined: the
/// whole batch is sent, then the acks are collected in order. Each
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
                let jetstream = async_nats::jetstream::ContextBuilder::new()
                    .timeout(options.ack_timeout)
                    .max_ack_inflight(options.max_in_flight.max(1))
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
        let (Some(runtime), Some(jetstream)) = (&self.runtime, &self.jetstream) else {
            return WriteOutcome::Fatal("the sink is not started".into());
        };
        let (records, subject, run_id) = (
            batch.clone(),
            self.options.subject.clone(),
            self.run_id.clone(),
        );
        let dedupe = self.options.dedupe;
        let jetstream = jetstream.clone();
        // On the I/O thread, beside the connection task: the publishes and
        // their acks then never cross threads one by one.
        let published =
            runtime.run_on_io_thread(self.options.timeout, "publishing the batch", async move {
                let messages = messages(&records, &subject, &run_id, dedupe);
                Ok(publish(&jetstream, messages).await)
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

/// One message to publish.
struct Message {
    subject: Subject,
    publish: PublishMessage,
}

/// The batch's messages, each built as it is about to be sent (the
/// server works on the first while the rest are built). The payload is a
/// slice of the batch's own buffer (no copy); a record whose subject
/// fields are spelled as the previous record's shares its subject, which is
/// not rendered again.
fn messages<'b>(
    batch: &'b Batch,
    subject: &'b FieldTemplate,
    run_id: &'b str,
    dedupe: bool,
) -> impl Iterator<Item = Message> + Send + 'b {
    // The subject's fields, read from the raw record; nothing else of it
    // is decoded.
    let fields = subject.fields();
    let reader = FieldReader::new(&fields);
    let holes = fields.len();
    let mut found = FoundFields::default();
    let shared = batch.shared_bytes();
    let mut previous: Vec<Option<(bool, &'b [u8])>> = Vec::with_capacity(holes);
    let mut last: Option<Subject> = None;
    let mut id = String::with_capacity(run_id.len() + 21);
    batch.records().enumerate().map(move |(i, record)| {
        reader.read(record, &mut found);
        let spelling = |hole| reader.field(&found, hole).spelling();
        let subject = match &last {
            Some(subject) if (0..holes).all(|hole| spelling(hole) == previous[hole]) => {
                subject.clone()
            }
            _ => {
                previous.clear();
                previous.extend((0..holes).map(spelling));
                let text = subject.render(
                    |hole| {
                        let field = reader.field(&found, hole);
                        if field.is_null() { None } else { field.text() }
                    },
                    subject_token,
                );
                let subject = Subject::from(text);
                last = Some(subject.clone());
                subject
            }
        };
        let mut publish = PublishMessage::build().payload(shared.slice_ref(record));
        if dedupe {
            id.clear();
            let _ = write!(id, "{run_id}-{}", batch.first_sequence() + i as u64);
            publish = publish.message_id(&id);
        }
        Message { subject, publish }
    })
}

/// A field value as one subject token: no spaces, dots or wildcards.
fn subject_token(value: &str) -> String {
    let token: String = value
        .chars()
        .map(|c| {
            if c.is_whitespace() || matches!(c, '.' | '*' | '>') {
                '_'
            } else {
                c
            }
        })
        .collect();
    if token.is_empty() {
        "unknown".into()
    } else {
        token
    }
}

/// What became of one batch's publishes.
struct Published {
    /// Records refused for good (too large for the server).
    refused: Vec<(Range<u32>, String)>,
    /// The first record whose publish or ack failed for a transient
    /// reason, and why.
    failed_at: Option<(u32, String)>,
    stream_missing: bool,
}

impl Published {
    fn outcome(self, len: u32) -> WriteOutcome {
        let handled = self.failed_at.as_ref().map_or(len, |(at, _)| *at);
        let refused: Vec<_> = self
            .refused
            .into_iter()
            .filter(|(range, _)| range.start < handled)
            .collect();
        let retry_reason = self.failed_at.map(|(_, why)| why).unwrap_or_default();
        WriteOutcome::settled(len, handled, refused, retry_reason)
    }
}

async fn publish(
    jetstream: &async_nats::jetstream::Context,
    messages: impl Iterator<Item = Message>,
) -> Published {
    let mut published = Published {
        refused: Vec::new(),
        failed_at: None,
        stream_missing: false,
    };
    let mut acks: Vec<(u32, PublishAckFuture)> = Vec::with_capacity(messages.size_hint().0);
    for (i, message) in messages.enumerate() {
        let i = i as u32;
        match jetstream
            .send_publish(message.subject, message.publish)
            .await
        {
            Ok(ack) => acks.push((i, ack)),
            Err(err) if err.kind() == PublishErrorKind::MaxPayloadExceeded => {
                published
                    .refused
                    .push((i..i + 1, bounded_text(err.to_string().as_bytes())));
            }
            Err(err) => {
                published.failed_at = Some((
                    i,
                    format!(
                        "publish failed: {}",
                        bounded_text(err.to_string().as_bytes())
                    ),
                ));
                break;
            }
        }
    }
    for (i, ack) in acks {
        if published.failed_at.as_ref().is_some_and(|(at, _)| *at <= i) {
            break;
        }
        if let Err(err) = ack.await {
            if err.kind() == PublishErrorKind::StreamNotFound {
                published.stream_missing = true;
            }
            let why = match err.kind() {
                PublishErrorKind::StreamNotFound => format!(
                    "{err}: no JetStream stream captures this subject; create one, or set `stream` so the sink creates it"
                ),
                _ => format!(
                    "no acknowledgement: {}",
                    bounded_text(err.to_string().as_bytes())
                ),
            };
            published.failed_at = Some((i, why));
            break;
        }
    }
    published
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::RecordResults;

    #[test]
    fn messages_carry_each_record_its_subject_and_id() {
        let options = NatsSinkOptions {
            url: "nats://127.0.0.1:4222".into(),
            subject: FieldTemplate::parse("logs.{service}").unwrap(),
            auth: NatsAuth::None,
            tls_required: false,
            ca_file: None,
            stream: None,
            dedupe: true,
            ack_timeout: Duration::from_secs(1),
            max_in_flight: 8,
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        let records = [
            r#"{"service":"api","n":1}"#,
            r#"{"service":"api","n":2}"#,
            r#"{"service":"db.main","n":3}"#,
            r#"{"n":4}"#,
            r#"{"service":"api","n":5}"#,
        ];
        let batch = Batch::from_records(records.iter().map(|r| r.as_bytes()), 40);
        let built: Vec<Message> = messages(&batch, &options.subject, "run", true).collect();
        let subjects: Vec<&str> = built.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "logs.api",
                "logs.api",
                "logs.db_main",
                "logs.unknown",
                "logs.api"
            ]
        );
        for (i, (message, record)) in built.into_iter().zip(records).enumerate() {
            let sent = message.publish.outbound_message(message.subject);
            assert_eq!(sent.payload, record.as_bytes());
            let id = sent.headers.as_ref().unwrap().get("Nats-Msg-Id");
            assert_eq!(id.unwrap().as_str(), format!("run-{}", 40 + i));
        }
        let plain = messages(&batch, &options.subject, "run", false)
            .next()
            .unwrap();
        assert!(plain.publish.outbound_message("x").headers.is_none());
    }

    #[test]
    fn field_values_cannot_add_subject_tokens_or_wildcards() {
        assert_eq!(subject_token("a.b *>c"), "a_b___c");
        assert_eq!(subject_token(""), "unknown");
    }

    #[test]
    fn outcomes_keep_refusals_before_the_first_failure() {
        let published = Published {
            refused: vec![(1..2, "too big".into()), (5..6, "too big".into())],
            failed_at: Some((3, "timed out".into())),
            stream_missing: false,
        };
        assert_eq!(
            published.outcome(8),
            WriteOutcome::Records(
                RecordResults::new()
                    .rejected(1..2, "too big")
                    .retryable(3..8, "timed out")
            )
        );
        let all = Published {
            refused: vec![],
            failed_at: None,
            stream_missing: false,
        };
        assert_eq!(all.outcome(4), WriteOutcome::Accepted);
    }
}
